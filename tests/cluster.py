"""A real django-q2 cluster process on the test database and the same Redis."""

import contextlib
import os
import signal
import subprocess
import sys
import time

import pytest
from django.conf import settings
from django.db import connection
from django_q.brokers import get_broker
from django_q.conf import Conf


def cluster_env(**extra: str) -> dict[str, str]:
    """A qcluster's environment: the test database, this run's queue and channel-layer names."""
    database = connection.settings_dict
    return {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "handoff_site.test_settings",
        "HANDOFF_REAL_CLUSTER": "1",
        "DATABASE_URL": f"postgres://{database['USER']}@{database['HOST']}:{database['PORT']}/{database['NAME']}",
        "SECRET_KEY": settings.SECRET_KEY,  # task payloads are signed with it
        "Q_CLUSTER_NAME": settings.Q_CLUSTER["name"],  # one queue, however many clusters
        "CHANNEL_LAYER_PREFIX": settings.CHANNEL_LAYERS["default"]["CONFIG"]["prefix"],
        "Q_WORKERS": "2",
        **extra,
    }


def mail_to_files(mail_dir) -> dict[str, str]:
    return {"TEST_EMAIL_BACKEND": "django.core.mail.backends.filebased.EmailBackend",
            "EMAIL_FILE_PATH": str(mail_dir)}


@contextlib.contextmanager
def running_cluster(mail_dir):
    # Its output is not read: DEVNULL, since a full pipe would block the cluster's logging.
    process = subprocess.Popen(
        [sys.executable, str(settings.BASE_DIR / "manage.py"), "qcluster"],
        env=cluster_env(**mail_to_files(mail_dir)), stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )
    try:
        _wait_until_listening()
        yield process
    finally:
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(20)
        except subprocess.TimeoutExpired:
            process.kill()


def _wait_until_listening(timeout: float = 20) -> None:
    # The cluster reports itself in Redis once its workers are up.
    deadline = time.monotonic() + timeout
    broker = get_broker()
    while time.monotonic() < deadline:
        if broker.get_stats(f"{Conf.Q_STAT}:*"):
            return
        time.sleep(0.2)
    raise RuntimeError("the django-q2 cluster did not start")


@pytest.fixture
def real_task_queue(monkeypatch):
    """This process enqueues to Redis instead of running tasks inline."""
    monkeypatch.setattr(Conf, "SYNC", False)
