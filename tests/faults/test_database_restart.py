"""PostgreSQL is restarted, then stopped for a few seconds, while Telegram keeps delivering
webhooks to a real web process: every answer is 200 or 503 with Retry-After, never a 500;
every update answered 200 is stored; the platform's retries of the 503s are stored once; after
the database is back the same process serves again without a restart.

The database is a private PostgreSQL cluster (initdb + pg_ctl) on a free port, never the
shared server."""

import json
import os
import subprocess
import sys
import threading
import time
from collections import Counter
from dataclasses import dataclass

import psycopg
import pytest
import redis
import requests
import websockets
from django.conf import settings

from handoff_site.json_socket import CLOSE_RECONNECT
from tests.browser.live import WebProcess
from tests.fakes.telegram_api import FakeTelegram
from tests.faults.private_postgres import PrivatePostgres
from tests.sockets import live_inbox_tab

pytestmark = pytest.mark.faults

SENDERS = 4
# Telegram tries a refused update again; here after a short pause, for as long as this.
RETRY_PAUSE = 0.1
GIVE_UP_AFTER = 30.0


@dataclass
class Answer:
    status: int
    retry_after: str | None
    update: tuple[str, str]  # (chat id, message id)


class TelegramSender(threading.Thread):
    """A Telegram chat writing one message after another, each delivered until it is taken."""

    def __init__(self, url: str, secret: str, chat_id: int, answers: list, stop: threading.Event) -> None:
        super().__init__(daemon=True)
        self.url, self.secret, self.chat_id, self.answers, self.stop = url, secret, chat_id, answers, stop
        self.written: list[tuple[str, str]] = []
        self.errors: list[str] = []

    def run(self) -> None:
        session = requests.Session()
        message_id = 0
        while not self.stop.is_set():
            message_id += 1
            update = self._update(message_id)
            self.written.append((str(self.chat_id), str(message_id)))
            deadline = time.monotonic() + GIVE_UP_AFTER
            while time.monotonic() < deadline:
                try:
                    response = session.post(self.url, json=update, timeout=10,
                                            headers={"X-Telegram-Bot-Api-Secret-Token": self.secret})
                except requests.RequestException as exc:
                    self.errors.append(type(exc).__name__)
                    time.sleep(RETRY_PAUSE)
                    continue
                self.answers.append(Answer(response.status_code, response.headers.get("Retry-After"),
                                           (str(self.chat_id), str(message_id))))
                if response.status_code == 200:
                    break
                time.sleep(RETRY_PAUSE)

    def _update(self, message_id: int) -> dict:
        user = {"id": self.chat_id, "is_bot": False, "first_name": f"Sender {self.chat_id}"}
        return {"update_id": self.chat_id * 100_000 + message_id, "message": {
            "message_id": message_id, "date": int(time.time()), "text": f"message {message_id} from {self.chat_id}",
            "from": user, "chat": {**user, "type": "private"}}}


def stored_updates(database_url: str) -> Counter:
    with psycopg.connect(database_url) as connection:
        rows = connection.execute(
            "SELECT c.external_thread_id, m.platform_message_id FROM conversations_message m "
            "JOIN conversations_conversation c ON c.id = m.conversation_id WHERE m.author_kind = 'user'"
        ).fetchall()
    return Counter((chat, message_id) for chat, message_id in rows)


def manage(env: dict, *args: str) -> str:
    return subprocess.run([sys.executable, str(settings.BASE_DIR / "manage.py"), *args], env=env, check=True,
                          capture_output=True, text=True, timeout=120).stdout


def web_process(database_url: str, **env: str) -> WebProcess:
    """A web process on the test's own database, migrated and seeded with the demo org."""
    web = WebProcess(DATABASE_URL=database_url, **env)
    web.env["SITE_URL"] = web.url
    manage(web.env, "migrate", "-v", "0")
    web.demo = json.loads(manage(web.env, "seed_demo", "--json", "--force"))
    return web


def accepted(answers: list) -> int:
    return sum(1 for answer in list(answers) if answer.status == 200)


def wait_for(condition, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, "traffic did not get through"
        time.sleep(0.05)


def probe_everything_else(web_url: str, session: requests.Session, api_key: str) -> dict[str, requests.Response]:
    """What a teammate's browser and an API client get while the database is down."""
    return {
        "inbox": session.get(f"{web_url}/inbox/", timeout=10, allow_redirects=False),
        "api": requests.get(f"{web_url}/api/v1/handoffs/", headers={"Authorization": f"Bearer {api_key}"},
                            timeout=10),
        "healthz": requests.get(f"{web_url}/healthz", timeout=10),
    }


def log_in(web_url: str, username: str, password: str) -> requests.Session:
    session = requests.Session()
    session.get(f"{web_url}/accounts/login/", timeout=10)
    response = session.post(f"{web_url}/accounts/login/", timeout=10, allow_redirects=False, data={
        "username": username, "password": password, "csrfmiddlewaretoken": session.cookies["csrftoken"]},
        headers={"Referer": f"{web_url}/accounts/login/"})
    assert response.status_code == 302, response.status_code
    return session


def test_webhooks_during_a_database_restart_get_503_never_500_and_nothing_is_lost(fault_report):
    queue_name = f"handoff-faults-pg-{os.getpid()}"
    with PrivatePostgres() as postgres, FakeTelegram("7000000001:AAHdqTcvCH1vGWJxfSeofSAs0K5PALDsaw_") as telegram:
        database_url = postgres.create_database("handoff")
        web = web_process(database_url, TELEGRAM_API_BASE_URL=telegram.url,
                          # The AI turns go to a task queue nobody works: this test is about taking webhooks.
                          HANDOFF_REAL_CLUSTER="1", Q_CLUSTER_NAME=queue_name)
        web_url, demo = web.url, web.demo
        channel = next(c for c in demo["channels"] if c["platform"] == "telegram")
        ana = next(user for user in demo["users"] if user["username"] == "ana")
        answers: list[Answer] = []
        stop = threading.Event()
        senders = [TelegramSender(channel["webhook_url"], channel["secret_token"], 7_000 + n, answers, stop)
                   for n in range(SENDERS)]
        try:
            web.start()
            teammate = log_in(web_url, "ana", ana["password"])
            for sender in senders:
                sender.start()
            wait_for(lambda: accepted(answers) >= 20, timeout=30)

            postgres.restart()
            after_restart = accepted(answers)
            wait_for(lambda: accepted(answers) >= after_restart + 20, timeout=30)

            postgres.stop()
            wait_for(lambda: any(answer.status == 503 for answer in list(answers)), timeout=10)
            during_outage = probe_everything_else(web_url, teammate, demo["api"]["key"])
            time.sleep(2)
            postgres.start()
            after_start = accepted(answers)
            wait_for(lambda: accepted(answers) >= after_start + 20, timeout=30)
            back = probe_everything_else(web_url, teammate, demo["api"]["key"])
        finally:
            stop.set()
            for sender in senders:
                sender.join(GIVE_UP_AFTER + 15)
            web.stop()
            _drop_task_queue(queue_name)
        stored = stored_updates(database_url)

    statuses = Counter(answer.status for answer in answers)
    written = {update for sender in senders for update in sender.written}
    taken = {answer.update for answer in answers if answer.status == 200}
    lost = len(written - set(stored))
    fault_report(
        scenario="PostgreSQL restarted and stopped during webhooks",
        load=f"{SENDERS} Telegram chats writing non-stop, 1 web process",
        faults=f"pg_ctl restart -m fast; stop 2 s, start; {statuses[503]} answers were 503",
        sent=len(written), stored=len(stored), delivered=len(taken),
        duplicated=sum(count - 1 for count in stored.values()), lost=lost,
    )
    assert set(statuses) <= {200, 503}, statuses  # never a 500
    assert statuses[503] > 0, "the outage was not seen: nothing was tested"
    assert all(answer.retry_after for answer in answers if answer.status == 503)
    assert taken <= set(stored), "a 200 was answered for an update that was not stored"
    assert lost == 0 and written == taken
    assert all(count == 1 for count in stored.values())
    for surface, response in during_outage.items():
        assert (surface, response.status_code) == (surface, 503)
        assert response.headers.get("Retry-After")
    assert during_outage["api"].json()["error"]["code"] == "service_unavailable"
    assert [back[surface].status_code for surface in ("inbox", "api", "healthz")] == [200, 200, 200]


def test_an_open_inbox_carries_on_after_a_database_restart():
    """Production keeps its database connections: after a restart each is broken until its
    next use fails. An open inbox's next snapshot used to be that use, and the tab was closed
    with 1011; now the read is tried again on a new connection. With the database down, an
    action is refused as briefly unavailable, and a snapshot closes the tab for the browser to
    reconnect."""
    with PrivatePostgres() as postgres:
        web = web_process(postgres.create_database("handoff"), TEST_DB_CONN_MAX_AGE="600")
        web_url = web.url
        ana = next(user for user in web.demo["users"] if user["username"] == "ana")
        try:
            web.start()
            teammate = log_in(web_url, "ana", ana["password"])
            assert teammate.get(f"{web_url}/inbox/", timeout=10).status_code == 200
            cookie = "; ".join(f"{name}={value}" for name, value in teammate.cookies.items())
            with live_inbox_tab(web_url, cookie) as tab:
                postgres.restart()
                tab.send({"type": "snapshot"})
                again = tab.next(lambda frame: frame["type"] == "snapshot")
                tab.send({"type": "ping", "request_id": "still-open"})
                assert tab.next(lambda frame: frame["type"] == "pong")["request_id"] == "still-open"

                postgres.stop()
                tab.send({"type": "queue", "request_id": "while-down"})
                refused = tab.next(lambda frame: frame.get("request_id") == "while-down")
                tab.send({"type": "snapshot"})
                with pytest.raises(websockets.exceptions.ConnectionClosed) as closed:
                    tab.next(lambda frame: False)
            postgres.start()
            with live_inbox_tab(web_url, cookie) as reconnected:
                assert reconnected.snapshot["me"] == tab.snapshot["me"]
        finally:
            web.stop()
    assert again["me"] == tab.snapshot["me"]
    assert (refused["type"], refused["code"]) == ("error", "service_unavailable")
    assert closed.value.rcvd.code == CLOSE_RECONNECT  # the browser reconnects, and reloads
    assert {mate["name"]: mate["presence"] for mate in again["teammates"]}["Ana Silva"] == "online"


def _drop_task_queue(name: str) -> None:
    client = redis.Redis.from_url(settings.REDIS_URL)
    for key in client.scan_iter(f"django_q:{name}:*"):
        client.delete(key)
