"""Races decided by PostgreSQL: real transactions on separate connections, in threads."""

import threading
from datetime import timedelta

import pytest
from django.core import mail
from django.db import connection as default_connection
from django.db import connections
from django.utils import timezone

from conversations.models import AuthorKind, HandoffSession, HandoffTrigger
from conversations.services import deadlines
from conversations.services.handoff import handoff_accept, handoff_escalate, handoff_expire_if_due
from handoff_site.errors import ConflictError
from orgs.roles import Role
from orgs.tests.factories import member

pytestmark = pytest.mark.django_db(transaction=True)


def run_at_once(*calls):
    """Start every call at the same moment, each on its own database connection."""
    barrier = threading.Barrier(len(calls))
    outcomes: list = [None] * len(calls)

    def run(index, call):
        try:
            barrier.wait()
            outcomes[index] = ("ok", call())
        except Exception as error:  # the outcome is what the test asserts on
            outcomes[index] = ("error", error)
        finally:
            connections.close_all()

    threads = [threading.Thread(target=run, args=(i, call)) for i, call in enumerate(calls)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(30)
    return outcomes


@pytest.fixture
def queued_session(conversation):
    assert default_connection.vendor == "postgresql"
    return handoff_escalate(conversation_id=conversation.pk, trigger=HandoffTrigger.GUARD).session


def test_concurrent_accepts_have_exactly_one_winner(queued_session, organization):
    teammates = [member(organization, Role.AGENT, first_name=f"T{i}") for i in range(8)]
    outcomes = run_at_once(*[
        (lambda user=user: handoff_accept(session_id=queued_session.pk, user=user)) for user in teammates
    ])

    winners = [result for kind, result in outcomes if kind == "ok"]
    refusals = [error for kind, error in outcomes if kind == "error"]
    assert len(winners) == 1 and len(refusals) == 7
    assert all(isinstance(error, ConflictError) and error.code == "already_accepted" for error in refusals)
    winner = winners[0].assigned_to
    assert {error.details["accepted_by"]["id"] for error in refusals} == {winner.pk}
    queued_session.refresh_from_db()
    assert queued_session.assigned_to == winner
    assert queued_session.transitions.filter(to_status="active").count() == 1
    accepted_notices = queued_session.conversation.messages.filter(
        author_kind=AuthorKind.SYSTEM, text__contains="has joined"
    )
    assert accepted_notices.count() == 1


def test_concurrent_escalations_open_one_session(conversation):
    outcomes = run_at_once(*[
        (lambda: handoff_escalate(conversation_id=conversation.pk, trigger=HandoffTrigger.GUARD)) for _ in range(6)
    ])
    assert all(kind == "ok" for kind, _ in outcomes)
    assert sum(result.created for _, result in outcomes) == 1
    assert HandoffSession.objects.filter(conversation=conversation).count() == 1


def test_expiry_racing_an_accept_ends_one_way_only(conversation, ana):
    for _ in range(5):
        session = handoff_escalate(conversation_id=conversation.pk, trigger=HandoffTrigger.GUARD).session
        HandoffSession.objects.filter(pk=session.pk).update(expires_at=timezone.now() - timedelta(seconds=1))
        accept, expire = run_at_once(
            lambda: handoff_accept(session_id=session.pk, user=ana),
            lambda: handoff_expire_if_due(session_id=session.pk),
        )
        session.refresh_from_db()
        if session.status == "active":
            assert accept[0] == "ok" and expire == ("ok", False)
        else:
            assert session.status == "expired"
            assert expire == ("ok", True) and accept[0] == "error" and accept[1].code == "not_waiting"
        assert session.transitions.count() == 2
        # Leave the conversation free for the next round.
        HandoffSession.objects.filter(pk=session.pk).update(status="resolved")


def test_a_reminder_racing_an_accept_never_mails_about_an_accepted_session(conversation, ana):
    for _ in range(5):
        session = handoff_escalate(conversation_id=conversation.pk, trigger=HandoffTrigger.GUARD).session
        HandoffSession.objects.filter(pk=session.pk).update(remind_at=timezone.now() - timedelta(seconds=1))
        mail.outbox.clear()
        run_at_once(
            lambda: handoff_accept(session_id=session.pk, user=ana),
            lambda: deadlines.send_reminder_if_due(session_id=session.pk),
        )
        session.refresh_from_db()
        assert session.status == "active"
        if mail.outbox:
            # The reminder claimed the session while it was still queued: one email, once.
            assert session.reminder_sent_at is not None
            assert session.reminder_sent_at <= session.accepted_at
        HandoffSession.objects.filter(pk=session.pk).update(status="resolved")
