"""A real django-q2 cluster on the test database that a test can kill like a crash would:
SIGKILL to its whole process group (the sentinel, the pusher, the monitor and every worker), so
nothing gets to finish, acknowledge or clean up."""

import os
import signal
import subprocess
import sys
import time

from django.conf import settings

from tests.cluster import _wait_until_listening, cluster_env


class WorkerCluster:
    def __init__(self, **extra_env: str) -> None:
        self.env = cluster_env(**extra_env)
        self.process: subprocess.Popen | None = None

    def start(self) -> "WorkerCluster":
        self.process = subprocess.Popen(
            [sys.executable, str(settings.BASE_DIR / "manage.py"), "qcluster"],
            env=self.env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
            start_new_session=True,  # its own process group: one signal reaches every worker
        )
        _wait_until_listening()
        return self

    def kill(self) -> None:
        """A crash: every process of the cluster dies at once, mid-task."""
        os.killpg(self.process.pid, signal.SIGKILL)
        self.process.wait(10)
        self._wait_for_group_to_die()
        self.process = None

    def stop(self) -> None:
        if self.process is None:
            return
        self.process.send_signal(signal.SIGTERM)
        try:
            self.process.wait(20)
        except subprocess.TimeoutExpired:
            os.killpg(self.process.pid, signal.SIGKILL)
            self.process.wait()
        self._wait_for_group_to_die()
        self.process = None

    def _wait_for_group_to_die(self, timeout: float = 10) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            try:
                os.killpg(self.process.pid, 0)
            except ProcessLookupError:
                return
            time.sleep(0.05)
        os.killpg(self.process.pid, signal.SIGKILL)

    def __enter__(self) -> "WorkerCluster":
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()
