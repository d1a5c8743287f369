"""Real processes for the benchmarks: the product as the Procfile runs it, and the bare relay.

`product_stack()` gives a fresh PostgreSQL database, migrated and seeded (`seed_demo`), with
daphne web processes and qcluster workers on it, each run isolated on the shared Redis by its
own channel-layer prefix and cluster name. `relay_stack()` gives the limit it is compared to:
daphne + channels-redis turning an HTTP POST into a group_send to websockets, nothing else.

Neither imports Django in this process: the bench is a client, like a platform and a browser.
"""

import contextlib
import itertools
import json
import os
import re
import secrets
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.parse
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import psycopg
import redis
import requests

BASE_DIR = Path(__file__).resolve().parents[2]
POSTGRES = os.environ.get("BENCH_POSTGRES", "postgres://postgres@127.0.0.1:5432")
REDIS_URL = os.environ.get("BENCH_REDIS_URL", "redis://127.0.0.1:6379/0")
PUBSUB_LAYER = "channels_redis.pubsub.RedisPubSubChannelLayer"
CORE_LAYER = "channels_redis.core.RedisChannelLayer"
# The product's default (handoff_site/settings.py): the pub/sub layer that notices a Redis restart.
PRODUCT_LAYER = "handoff_site.channel_layer.ReconnectingPubSubChannelLayer"
# `python -m bench.perf --layer …` sets it: the channel layer of every stack a figure starts.
LAYER_VARIABLE = "BENCH_CHANNEL_LAYER"


def chosen_layer(channel_layer_backend: str | None) -> str | None:
    return channel_layer_backend or os.environ.get(LAYER_VARIABLE) or None

_databases = itertools.count()
# Settings the stack decides; the caller's own environment (a pytest run's test settings
# among them) must not leak into the product's processes.
_OWN_VARIABLES = {
    "DJANGO_SETTINGS_MODULE", "DATABASE_URL", "REDIS_URL", "SECRET_KEY", "ALLOWED_HOSTS", "DEBUG",
    "CHANNEL_LAYER_PREFIX", "CHANNEL_LAYER_BACKEND", "Q_CLUSTER_NAME", "SITE_URL", "HANDOFF_REAL_CLUSTER",
    "TEST_EMAIL_BACKEND", "PYTEST_XDIST_WORKER", "Q_SYNC",
}


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@dataclass
class Processes:
    """Child processes with their output in files (a full pipe would stall a busy server)."""

    log_dir: Path
    running: list[tuple[str, subprocess.Popen]] = field(default_factory=list)

    def start(self, name: str, command: list[str], env: dict) -> subprocess.Popen:
        log = open(self.log_dir / f"{name}.log", "w")
        process = subprocess.Popen(command, cwd=BASE_DIR, env=env, stdout=log, stderr=subprocess.STDOUT,
                                   start_new_session=True)
        log.close()
        self.running.append((name, process))
        return process

    def log(self, name: str) -> str:
        path = self.log_dir / f"{name}.log"
        return path.read_text(errors="replace")[-4000:] if path.exists() else ""

    def print_logs(self) -> None:
        """What each process wrote last, for a run that failed (the files go with the run)."""
        for name, _ in self.running:
            print(f"--- {name}, the end of its log ---\n{self.log(name)}", file=sys.stderr)

    def check_alive(self) -> None:
        for name, process in self.running:
            if process.poll() is not None:
                raise RuntimeError(f"{name} exited with {process.returncode}:\n{self.log(name)}")

    def stop_all(self) -> None:
        for _, process in self.running:
            if process.poll() is None:
                process.send_signal(signal.SIGTERM)
        deadline = time.monotonic() + 15
        for _, process in self.running:
            try:
                process.wait(max(0.1, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                # Its own session: the qcluster's worker children go with it.
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(process.pid, signal.SIGKILL)
                process.wait()
        self.running.clear()


def wait_until_healthy(url: str, processes: Processes, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        processes.check_alive()
        try:
            with urllib.request.urlopen(f"{url}/healthz", timeout=2) as response:
                if response.status == 200:
                    return
        except OSError:
            time.sleep(0.2)
    raise RuntimeError(f"{url} did not become healthy")


def daphne_command(port: int, application: str) -> list[str]:
    # The Procfile's `web`, on loopback and a free port.
    return [sys.executable, "-m", "daphne", "--bind", "127.0.0.1", "--port", str(port), "--proxy-headers",
            application]


# --- the product -------------------------------------------------------------------------------


@dataclass
class Stack:
    web_urls: list[str]
    web_pids: list[int]
    worker_pids: list[int]
    env: dict
    seed: dict
    database_url: str
    processes: Processes

    def password(self, username: str) -> str:
        return next(user["password"] for user in self.seed["users"] if user["username"] == username)

    def channel(self, platform: str) -> dict:
        """The seed's demo connection of a platform: key, webhook_url, platform-side secrets."""
        return next(channel for channel in self.seed["channels"] if channel["platform"] == platform)

    def webhook_urls(self, platform: str) -> list[str]:
        """The demo connection's webhook on every web process (the seed names the first)."""
        path = urllib.parse.urlsplit(self.channel(platform)["webhook_url"]).path
        return [f"{url}{path}" for url in self.web_urls]

    def login(self, username: str, web: int = 0) -> str:
        """Log in as a browser does and open the inbox once (it selects the organization in
        the session); returns the Cookie header for websockets."""
        url = self.web_urls[web]
        with requests.Session() as browser:
            page = browser.get(f"{url}/accounts/login/", timeout=10)
            page.raise_for_status()
            token = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', page.text).group(1)
            response = browser.post(
                f"{url}/accounts/login/",
                data={"username": username, "password": self.password(username), "csrfmiddlewaretoken": token},
                headers={"Referer": f"{url}/accounts/login/"}, timeout=10, allow_redirects=False,
            )
            if response.status_code != 302:
                raise RuntimeError(f"login as {username} failed: HTTP {response.status_code}")
            browser.get(f"{url}/inbox/", timeout=10).raise_for_status()
            return "; ".join(f"{name}={value}" for name, value in browser.cookies.items())

    def manage(self, *args: str, timeout: float = 120) -> str:
        """A manage.py command against this stack's database and Redis; returns its stdout."""
        result = subprocess.run([sys.executable, "manage.py", *args], cwd=BASE_DIR, env=self.env,
                                capture_output=True, text=True, timeout=timeout)
        if result.returncode != 0:
            raise RuntimeError(f"manage.py {' '.join(args[:2])} failed:\n{result.stderr[-4000:]}")
        return result.stdout

    def human_threads(self, platform: str, thread_ids: list[str], contact_name: str = "Bench User") -> list[dict]:
        """Conversations on the demo connection of `platform`, one per thread id, each with a
        queued handoff session (handoff_escalate, as the guard does); accept them through the
        inbox websocket to put them in human mode. Returns [{thread_id, conversation_id,
        session_id}]."""
        arguments = json.dumps({"platform": platform, "threads": thread_ids, "contact_name": contact_name})
        output = self.manage("shell", "-c", f"from bench.perf.seeding import escalate_threads; "
                                            f"escalate_threads({arguments!r})")
        return json.loads(output.strip().splitlines()[-1])

    def log(self, name: str) -> str:
        """The output of a process: web0, web1…, worker0…"""
        return self.processes.log(name)


def _create_database(name: str) -> None:
    with psycopg.connect(f"{POSTGRES}/postgres", autocommit=True) as admin:
        admin.execute(f'CREATE DATABASE "{name}"')


def _drop_database(name: str) -> None:
    with psycopg.connect(f"{POSTGRES}/postgres", autocommit=True) as admin:
        admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def _forget_redis_keys(*patterns: str) -> None:
    """What the run left in the shared Redis: groups, queues, cluster stats."""
    with contextlib.suppress(redis.RedisError):
        client = redis.Redis.from_url(REDIS_URL)
        for pattern in patterns:
            keys = list(client.scan_iter(match=pattern, count=1000))
            for start in range(0, len(keys), 500):
                client.delete(*keys[start:start + 500])
        client.close()


def _wait_for_cluster(name: str, processes: Processes, timeout: float = 60) -> None:
    # django-q2 reports each running cluster under django_q:<name>:cluster:<id>.
    client = redis.Redis.from_url(REDIS_URL)
    deadline = time.monotonic() + timeout
    try:
        while time.monotonic() < deadline:
            processes.check_alive()
            if next(client.scan_iter(match=f"django_q:{name}:cluster*", count=1000), None):
                return
            time.sleep(0.2)
    finally:
        client.close()
    raise RuntimeError("the qcluster did not start")


def stack_env(*, database_url: str, prefix: str, site_url: str, channel_layer_backend: str | None,
              extra_env: dict | None) -> dict:
    env = {key: value for key, value in os.environ.items() if key not in _OWN_VARIABLES}
    env.update({
        "DJANGO_SETTINGS_MODULE": "handoff_site.settings",
        "DATABASE_URL": database_url,
        "REDIS_URL": REDIS_URL,
        "SECRET_KEY": secrets.token_urlsafe(50),
        "ALLOWED_HOSTS": "127.0.0.1,localhost",
        "DEBUG": "0",
        "SITE_URL": site_url,
        "CHANNEL_LAYER_PREFIX": prefix,
        "Q_CLUSTER_NAME": prefix,
        "LOG_LEVEL": "WARNING",
        "EMAIL_BACKEND": "django.core.mail.backends.dummy.EmailBackend",
        "ANTHROPIC_API_KEY": "",
        "PYTHONUNBUFFERED": "1",
    })
    if channel_layer_backend:
        env["CHANNEL_LAYER_BACKEND"] = channel_layer_backend
    env.update(extra_env or {})
    return env


@contextlib.contextmanager
def product_stack(*, web_processes: int = 1, workers: int = 1, channel_layer_backend: str | None = None,
                  extra_env: dict | None = None) -> Iterator[Stack]:
    name = f"handoff_bench_{os.getpid()}_{next(_databases)}"
    database_url = f"{POSTGRES}/{name}"
    ports = [free_port() for _ in range(web_processes)]
    web_urls = [f"http://127.0.0.1:{port}" for port in ports]
    with contextlib.ExitStack() as fakes:
        if "TELEGRAM_API_BASE_URL" not in (extra_env or {}):
            # What the scenarios send to users (a teammate joined, replies) must reach a Bot API:
            # against the unreachable api.telegram.org each delivery would fail and retry in
            # the worker, in the middle of the figure (150-350 ms stalls every 30 s).
            from bench.perf.platform_clients import TimedTelegram

            telegram = fakes.enter_context(TimedTelegram())
            extra_env = {**(extra_env or {}), "TELEGRAM_API_BASE_URL": telegram.url}
        env = stack_env(database_url=database_url, prefix=name, site_url=web_urls[0],
                        channel_layer_backend=chosen_layer(channel_layer_backend), extra_env=extra_env)
        yield from _run_product_stack(name, database_url, ports, web_urls, env, workers)


def _run_product_stack(name: str, database_url: str, ports: list[int], web_urls: list[str], env: dict,
                       workers: int) -> Iterator[Stack]:
    with tempfile.TemporaryDirectory(prefix=f"{name}-") as log_dir:
        processes = Processes(Path(log_dir))
        _create_database(name)
        try:
            stack = Stack(web_urls=web_urls, web_pids=[], worker_pids=[], env=env, seed={},
                          database_url=database_url, processes=processes)
            stack.manage("migrate", "--noinput")
            stack.seed = json.loads(stack.manage("seed_demo", "--force", "--json").strip().splitlines()[-1])
            for index, port in enumerate(ports):
                process = processes.start(f"web{index}", daphne_command(port, "handoff_site.asgi:application"), env)
                stack.web_pids.append(process.pid)
            for index in range(workers):
                process = processes.start(f"worker{index}", [sys.executable, "manage.py", "qcluster"], env)
                stack.worker_pids.append(process.pid)
            for url in web_urls:
                wait_until_healthy(url, processes)
            if workers:
                _wait_for_cluster(name, processes)
            yield stack
        except BaseException:
            processes.print_logs()
            raise
        finally:
            processes.stop_all()
            _drop_database(name)
            _forget_redis_keys(f"{name}*", f"django_q:{name}:*")


# --- the bare relay ------------------------------------------------------------------------------


@dataclass
class Relay:
    web_urls: list[str]
    web_pids: list[int]
    env: dict
    processes: Processes

    @property
    def post_urls(self) -> list[str]:
        return [f"{url}/relay" for url in self.web_urls]

    @property
    def socket_urls(self) -> list[str]:
        return [f"{url.replace('http://', 'ws://')}/ws/relay/" for url in self.web_urls]


@contextlib.contextmanager
def relay_stack(*, channel_layer_backend: str | None = None, web_processes: int = 1) -> Iterator[Relay]:
    prefix = f"handoff_relay_{os.getpid()}_{next(_databases)}"
    ports = [free_port() for _ in range(web_processes)]
    env = {key: value for key, value in os.environ.items() if key not in _OWN_VARIABLES}
    env.update({"REDIS_URL": REDIS_URL, "CHANNEL_LAYER_PREFIX": prefix, "PYTHONUNBUFFERED": "1",
                "CHANNEL_LAYER_BACKEND": chosen_layer(channel_layer_backend) or PRODUCT_LAYER})
    with tempfile.TemporaryDirectory(prefix=f"{prefix}-") as log_dir:
        processes = Processes(Path(log_dir))
        try:
            relay = Relay(web_urls=[f"http://127.0.0.1:{port}" for port in ports], web_pids=[], env=env,
                          processes=processes)
            for index, port in enumerate(ports):
                relay.web_pids.append(processes.start(f"relay{index}", daphne_command(port, "bench.perf.relay:application"),
                                                      env).pid)
            for url in relay.web_urls:
                wait_until_healthy(url, processes)
            yield relay
        except BaseException:
            processes.print_logs()
            raise
        finally:
            processes.stop_all()
            _forget_redis_keys(f"{prefix}*")

