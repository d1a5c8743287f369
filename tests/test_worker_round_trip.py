"""The round trip with a real django-q2 cluster process doing the AI turns, deliveries,
reminders and expiries: nothing runs inline here."""

import asyncio
from datetime import timedelta

import pytest
from channels.db import database_sync_to_async
from django.utils import timezone
from django_q.models import Schedule
from django_q.scheduler import scheduler

from channels_gateway.tests.factories import ChannelConnectionFactory
from conversations.events import inbox_group
from conversations.models import HandoffSession
from conversations.tests.factories import AIAgentFactory
from orgs.roles import Role
from orgs.tests.factories import OrganizationFactory, member
from tests.cluster import running_cluster
from tests.realtime import GroupListener
from tests.sockets import receive_until, widget_socket

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.cluster]


def make_due(session: HandoffSession, deadline: str) -> None:
    """`remind` or `expire`: that deadline of the session is due now."""
    past = timezone.now() - timedelta(seconds=1)
    field = {"remind": "remind_at", "expire": "expires_at"}[deadline]
    HandoffSession.objects.filter(pk=session.pk).update(**{field: past})
    Schedule.objects.filter(name__startswith=deadline, name__endswith=f":{session.pk}").update(next_run=past)


async def mails_sent(directory, timeout: float = 15) -> list[str]:
    deadline = asyncio.get_running_loop().time() + timeout
    while not any(directory.iterdir()) and asyncio.get_running_loop().time() < deadline:
        await asyncio.sleep(0.1)
    return [path.read_text() for path in directory.iterdir()]


async def test_worker_answers_escalates_reminds_and_expires(real_task_queue, tmp_path):
    org = await database_sync_to_async(OrganizationFactory)()
    widget = await database_sync_to_async(ChannelConnectionFactory)(
        agent=await database_sync_to_async(AIAgentFactory)(organization=org)
    )
    await database_sync_to_async(member)(org, Role.AGENT, email="ana@example.test")
    inbox = await asyncio.to_thread(GroupListener, inbox_group(org.pk))

    with running_cluster(tmp_path):
        visitor = widget_socket(widget.key)
        await visitor.connect()
        await visitor.receive_json_from()

        await visitor.send_json_to({"type": "message", "text": "hello", "client_id": "1"})
        answer = await receive_until(visitor, lambda f: f["type"] == "message", timeout=15)
        assert answer["message"]["author_kind"] == "ai"

        await visitor.send_json_to({"type": "message", "text": "can I talk to a person?", "client_id": "2"})
        queued_notice = await receive_until(visitor, lambda f: f["type"] == "message", timeout=15)
        assert queued_notice["message"]["text"] == widget.agent.queued_message
        session = await database_sync_to_async(HandoffSession.objects.get)()
        assert session.status == "queued"

        # The deadlines come due, one after the other (both at once, the expiry may come
        # first and a reminder is then pointless); the scheduler hands each to the cluster.
        await database_sync_to_async(make_due)(session, "remind")
        await database_sync_to_async(scheduler)()
        assert len(await mails_sent(tmp_path)) == 1
        await database_sync_to_async(make_due)(session, "expire")
        await database_sync_to_async(scheduler)()
        expired_notice = await receive_until(visitor, lambda f: f["type"] == "message", timeout=15)
        assert expired_notice["message"]["text"] == widget.agent.expired_message

        events = await asyncio.to_thread(inbox.events, 1.0)
        assert [e["type"] for e in events if e["type"].startswith("handoff.")] == ["handoff.queued", "handoff.expired"]
        await visitor.disconnect()

    await database_sync_to_async(session.refresh_from_db)()
    assert session.status == "expired" and session.reminder_sent_at is not None
    mails = [path.read_text() for path in tmp_path.iterdir()]
    assert len(mails) == 1 and "ana@example.test" in mails[0]
    await asyncio.to_thread(inbox.close)
