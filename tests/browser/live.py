"""A real web process (daphne, the Procfile's `web`) on the test database, and Chromium
driven by Playwright. Tasks run inline in the web process (the test settings' sync
queue), so the whole round trip happens behind one port."""

import json
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from io import StringIO
from pathlib import Path

import pytest
from django.conf import settings
from django.core.management import call_command
from django.db import connection

CHROMIUM = os.environ.get("CHROMIUM_PATH", "/usr/bin/chromium")


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def _wait_until_healthy(url: str, process: subprocess.Popen, timeout: float = 30) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"the web process exited:\n{log_tail(process)}")
        try:
            with urllib.request.urlopen(f"{url}/healthz", timeout=1) as response:
                if response.status == 200:
                    return
        except OSError:
            time.sleep(0.2)
    raise RuntimeError("the web process did not become healthy")


def log_tail(process: subprocess.Popen) -> str:
    return process.log_path.read_text(errors="replace")[-4000:]


class WebProcess:
    """`daphne` on a fixed port, so a restart keeps the address browsers connect to. `env`
    overrides the test database's settings (another database, another Telegram)."""

    def __init__(self, **env: str):
        database = connection.settings_dict
        self.port = _free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.env = {
            **os.environ,
            "DJANGO_SETTINGS_MODULE": "handoff_site.test_settings",
            "DATABASE_URL": f"postgres://{database['USER']}@{database['HOST']}:{database['PORT']}/{database['NAME']}",
            "SECRET_KEY": settings.SECRET_KEY,
            "CHANNEL_LAYER_PREFIX": settings.CHANNEL_LAYERS["default"]["CONFIG"]["prefix"],
            "Q_CLUSTER_NAME": settings.Q_CLUSTER["name"],
            **env,
        }
        self.process: subprocess.Popen | None = None

    def start(self) -> None:
        # A file, not a pipe: nobody reads a pipe while the test runs, and daphne blocks on a
        # full one (its access log fills 64 KB in a few hundred requests).
        with tempfile.NamedTemporaryFile("w", prefix="handoff-web-", suffix=".log", delete=False) as log:
            self.process = subprocess.Popen(
                [sys.executable, "-m", "daphne", "-b", "127.0.0.1", "-p", str(self.port),
                 "handoff_site.asgi:application"],
                cwd=settings.BASE_DIR, env=self.env, stdout=log, stderr=subprocess.STDOUT,
            )
        self.process.log_path = Path(log.name)
        _wait_until_healthy(self.url, self.process)

    def stop(self) -> None:
        if self.process is None:
            return
        self.process.send_signal(signal.SIGTERM)
        try:
            self.process.wait(10)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()
        self.process.log_path.unlink(missing_ok=True)
        self.process = None

    def restart(self) -> None:
        self.stop()
        self.start()


@pytest.fixture
def running_web(transactional_db):
    web = WebProcess()
    web.start()
    try:
        yield web
    finally:
        web.stop()
        connection.close()


@pytest.fixture
def browser_page():
    """A factory of pages, each in its own browser context (its own cookies and storage)."""
    if not shutil.which(CHROMIUM):
        pytest.fail(f"Chromium is needed at {CHROMIUM} (apt-get install -y chromium) or set CHROMIUM_PATH")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path=CHROMIUM, headless=True, args=["--no-sandbox", "--disable-dev-shm-usage"]
        )
        contexts = []
        csp_violations = []

        def record_csp_violation(message):
            # Every page runs under the site's Content-Security-Policy: anything it blocks is a bug.
            if "Content Security Policy" in message.text:
                csp_violations.append(f"{message.location.get('url')}: {message.text}")

        def new_page(**context_options):
            context = browser.new_context(**context_options)
            context.set_default_timeout(15_000)
            context.on("console", record_csp_violation)
            contexts.append(context)
            return context.new_page()

        try:
            yield new_page
        finally:
            for context in contexts:
                context.close()
            browser.close()
        assert not csp_violations, "the Content-Security-Policy blocked something:\n" + "\n".join(csp_violations)


@pytest.fixture
def telegram(demo):
    """A fake Telegram Bot API for the demo bot (each test module says what `demo` is); a web
    process with TELEGRAM_API_BASE_URL set to its url sends there."""
    from channels_gateway.models import ChannelConnection
    from tests.fakes.telegram_api import FakeTelegram

    connection = ChannelConnection.objects.get(organization_id=demo["organization"]["id"], platform="telegram")
    with FakeTelegram(connection.secrets["bot_token"]) as fake:
        fake.connection = connection
        yield fake


def seeded_demo() -> dict:
    """`seed_demo --json`: the demo org, its users with fresh passwords, its widget."""
    out = StringIO()
    call_command("seed_demo", "--json", "--force", stdout=out)
    return json.loads(out.getvalue())


def open_inbox_as(page, base_url: str, demo: dict, username: str):
    password = next(user["password"] for user in demo["users"] if user["username"] == username)
    page.goto(f"{base_url}/inbox/")
    page.get_by_label("Username").fill(username)
    page.get_by_label("Password").fill(password)
    page.get_by_role("button", name=re.compile("log in", re.I)).click()
    page.locator("#inbox-app:not(.is-loading)").wait_for()  # the first snapshot arrived
    return page
