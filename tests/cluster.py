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


@contextlib.contextmanager
def running_cluster(mail_dir):
    database = connection.settings_dict
    env = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "handoff_site.test_settings",
        "HANDOFF_REAL_CLUSTER": "1",
        "DATABASE_URL": f"postgres://{database['USER']}@{database['HOST']}:{database['PORT']}/{database['NAME']}",
        "SECRET_KEY": settings.SECRET_KEY,  # task payloads are signed with it
        "Q_CLUSTER_NAME": settings.Q_CLUSTER["name"],
        "CHANNEL_LAYER_PREFIX": settings.CHANNEL_LAYERS["default"]["CONFIG"]["prefix"],
        "TEST_EMAIL_BACKEND": "django.core.mail.backends.filebased.EmailBackend",
        "EMAIL_FILE_PATH": str(mail_dir),
        "Q_WORKERS": "2",
    }
    process = subprocess.Popen(
        [sys.executable, str(settings.BASE_DIR / "manage.py"), "qcluster"],
        env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
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
