"""Two of each process the Procfile runs, on the test database and the same Redis: web
processes (daphne, tests/browser/live.py's WebProcess) and django-q2 clusters."""

import contextlib
import signal
import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor

from django.conf import settings
from django_q.brokers import get_broker
from django_q.conf import Conf

from tests.browser.live import WebProcess
from tests.cluster import cluster_env, mail_to_files


@contextlib.contextmanager
def web_processes(count: int):
    webs = [WebProcess() for _ in range(count)]
    try:
        with ThreadPoolExecutor(count) as starting:  # each start waits for its /healthz
            list(starting.map(WebProcess.start, webs))
        yield webs
    finally:
        for web in webs:
            web.stop()


@contextlib.contextmanager
def clusters(count: int, mail_dir):
    """`count` qcluster processes on one queue (tests/cluster.py's running_cluster starts one
    and waits for any cluster to report; here all of them must)."""
    processes = [
        subprocess.Popen([sys.executable, str(settings.BASE_DIR / "manage.py"), "qcluster"],
                         env=cluster_env(**mail_to_files(mail_dir)), stdout=subprocess.DEVNULL,
                         stderr=subprocess.DEVNULL)
        for _ in range(count)
    ]
    try:
        _wait_until_reporting(count, processes)
        yield processes
    finally:
        for process in processes:
            process.send_signal(signal.SIGTERM)
        for process in processes:
            try:
                process.wait(20)
            except subprocess.TimeoutExpired:
                process.kill()


def _wait_until_reporting(count: int, processes, timeout: float = 30) -> None:
    # Each cluster saves its status in Redis once its workers are up.
    deadline = time.monotonic() + timeout
    broker = get_broker()
    while time.monotonic() < deadline:
        if any(process.poll() is not None for process in processes):
            raise RuntimeError("a django-q2 cluster exited")
        if len(broker.get_stats(f"{Conf.Q_STAT}:*") or []) >= count:
            return
        time.sleep(0.2)
    raise RuntimeError(f"{count} django-q2 clusters did not start")
