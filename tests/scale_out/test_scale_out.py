"""Two web processes and two workers on one PostgreSQL and one Redis behave as one product:
a webhook posted to web process A reaches a teammate whose inbox is open on B, a deadline
fires once however many workers race for it, and presence reads the same from both.

Real processes (daphne, qcluster) on the test database; the inbox is a real websocket
client (`websockets`) with a logged-in session cookie, as a browser tab would be."""

import contextlib
import signal
import threading
import time
from datetime import timedelta

import pytest
import requests
from django.db import connection
from django.utils import timezone
from django_q.models import Schedule, Task
from django_q.scheduler import scheduler
from django_q.tasks import async_task

from channels_gateway.models import Platform
from channels_gateway.tests.factories import ChannelConnectionFactory
from channels_gateway.tests.test_telegram import HEADER, SECRET, User, conversation_for
from conversations.models import AuthorKind, ConversationMode, HandoffSession, HandoffTransition, HandoffTrigger, Message
from conversations.services.handoff import handoff_escalate
from conversations.tests.factories import ConversationFactory, HandoffSessionFactory
from tests.scale_out.processes import clusters, web_processes
from tests.sockets import live_inbox_tab, logged_in_cookie

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.cluster]


@pytest.fixture
def webs(transactional_db):
    """Web processes A and B, new for each test: the flush between tests re-creates content
    types and permissions under new ids, and a process that outlived it would check
    permissions against the ids it cached (so a member would be refused)."""
    with web_processes(2) as (a, b):
        yield a, b


@contextlib.contextmanager
def inbox_tab(web, user, organization):
    with live_inbox_tab(web.url, logged_in_cookie(user, organization)) as tab:
        yield tab


def presence_of(teammates: list[dict], user) -> str:
    return next(mate["presence"] for mate in teammates if mate["id"] == user.pk)


def test_a_webhook_posted_to_a_reaches_the_inbox_open_on_b(webs, organization, agent, ana):
    a, b = webs
    telegram = ChannelConnectionFactory(agent=agent, platform=Platform.TELEGRAM, config={},
                                        secrets={"bot_token": "7000000001:AAH-test", "secret_token": SECRET})
    conversation = conversation_for(telegram)
    conversation.mode = ConversationMode.HUMAN
    conversation.save(update_fields=["mode"])
    HandoffSessionFactory(conversation=conversation, status="active", assigned_to=ana,
                          accepted_at=timezone.now())
    with inbox_tab(b, ana, organization) as tab:
        response = requests.post(f"{a.url}/webhooks/telegram/{telegram.key}/", headers={HEADER: SECRET},
                                 json=User().update("where is my parcel?"), timeout=10)

        assert response.status_code == 200, response.text
        created = tab.next(lambda frame: frame["type"] == "message.created")
    assert created["message"]["text"] == "where is my parcel?"
    assert created["message"]["conversation_id"] == conversation.pk and created["message"]["author_kind"] == "user"


def test_presence_reads_the_same_from_both_web_processes(webs, organization, ana, ben):
    a, b = webs
    with inbox_tab(a, ana, organization) as anas_tab:
        with inbox_tab(b, ben, organization) as bens_tab:
            assert presence_of(bens_tab.snapshot["teammates"], ana) == "online"  # seen from B: Ana's tab is on A
            joined = anas_tab.next(lambda f: f["type"] == "presence.changed" and f["teammate"]["id"] == ben.pk)
            assert joined["teammate"]["presence"] == "online"  # A hears of Ben's tab on B
            anas_tab.send({"type": "snapshot"})
            again = anas_tab.next(lambda frame: frame["type"] == "snapshot")
            assert presence_of(again["teammates"], ben) == presence_of(again["teammates"], ana) == "online"

            bens_tab.send({"type": "presence", "state": "idle"})
            away = anas_tab.next(lambda f: f["type"] == "presence.changed" and f["teammate"]["id"] == ben.pk)
            assert away["teammate"]["presence"] == "away"

        left = anas_tab.next(lambda f: f["type"] == "presence.changed" and f["teammate"]["id"] == ben.pk)
        assert left["teammate"]["presence"] == "offline"


# --- deadlines with two workers ---------------------------------------------------------------

REMIND = "conversations.tasks.remind_if_still_queued"
EXPIRE = "conversations.tasks.expire_if_still_queued"
SWEEP = "conversations.tasks.sweep"


def make_due(session: HandoffSession, deadline: str, task: str) -> None:
    past = timezone.now() - timedelta(seconds=1)
    HandoffSession.objects.filter(pk=session.pk).update(**{deadline: past})
    Schedule.objects.filter(name=f"{task.rsplit('.', 1)[-1]}:{session.pk}").update(next_run=past)


def race(task: str, session: HandoffSession) -> None:
    """Everything that may run a due deadline, at once: two clusters' schedulers (each holds
    the ONCE schedule's row lock in turn), the task enqueued again by hand, and the minute
    sweep of each worker; the two clusters' four workers take them as they come."""
    def run_scheduler():
        try:
            scheduler()
        finally:
            connection.close()

    schedulers = [threading.Thread(target=run_scheduler) for _ in range(2)]
    for thread in schedulers:
        thread.start()
    for _ in range(2):
        async_task(task, session.pk)
        async_task(SWEEP)
    for thread in schedulers:
        thread.join()


def finished(func: str, count: int, timeout: float = 20) -> list:
    """The results of at least `count` runs of `func`, once they have finished."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        results = list(Task.objects.filter(func=func).values_list("result", flat=True))
        if len(results) >= count:
            return results
        time.sleep(0.2)
    raise AssertionError(f"{func} ran {Task.objects.filter(func=func).count()} times, not {count}")


def done_by_sweeps(what: str) -> int:
    return sum(result[what] for result in Task.objects.filter(func=SWEEP).values_list("result", flat=True))


def test_a_deadline_fires_once_with_two_workers(real_task_queue, tmp_path, organization, agent, ana):
    widget = ChannelConnectionFactory(agent=agent)
    conversation = ConversationFactory(contact__connection=widget)
    session = handoff_escalate(conversation_id=conversation.pk, trigger=HandoffTrigger.GUARD).session
    assert Schedule.objects.filter(name__endswith=f":{session.pk}").count() == 2

    with clusters(2, tmp_path):
        make_due(session, "remind_at", REMIND)
        race(REMIND, session)
        reminded = finished(REMIND, 3)
        finished(SWEEP, 2)
        assert reminded.count(True) + done_by_sweeps("reminded") == 1

        make_due(session, "expires_at", EXPIRE)
        race(EXPIRE, session)
        expired = finished(EXPIRE, 3)
        finished(SWEEP, 4)
        assert expired.count(True) + done_by_sweeps("expired") == 1

    # The ONCE schedules were taken by one scheduler each: the task ran once from there, twice by hand.
    assert Task.objects.filter(func=REMIND).count() == Task.objects.filter(func=EXPIRE).count() == 3
    mails = list(tmp_path.iterdir())
    assert len(mails) == 1 and "ana@example.test" in mails[0].read_text()
    session.refresh_from_db()
    assert session.status == "expired" and session.reminder_sent_at is not None
    assert HandoffTransition.objects.filter(session=session, to_status="expired").count() == 1
    told = Message.objects.filter(conversation=conversation, author_kind=AuthorKind.SYSTEM,
                                  text=agent.expired_message)
    assert told.count() == 1
    assert not Schedule.objects.filter(name__endswith=f":{session.pk}").exists()


# --- a rolling deploy --------------------------------------------------------------------------


def test_a_web_process_stops_on_sigterm_while_its_tabs_close(webs, organization, ana, ben):
    """A deploy stops web processes one by one, and a process must exit, not wait to be
    killed. A tab closing as the signal arrives left the closing's presence event queued on
    daphne's stopped event loop, and the thread that waited for it kept the process alive
    (it hung nearly every time before handoff_site.realtime.await_from_thread)."""
    a, b = webs
    with inbox_tab(b, ben, organization) as bens_tab:
        with contextlib.ExitStack() as tabs_on_a:
            for _ in range(5):
                tabs_on_a.enter_context(inbox_tab(a, ana, organization))
            bens_tab.next(lambda f: f["type"] == "presence.changed" and f["teammate"]["id"] == ana.pk)
        a.process.send_signal(signal.SIGTERM)
        a.process.wait(5)  # raises TimeoutExpired if it hangs; b stays up
    assert requests.get(f"{b.url}/healthz", timeout=5).status_code == 200
