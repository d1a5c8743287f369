from datetime import timedelta

import pytest
from django.core import mail
from django.db import IntegrityError, transaction
from django.utils import timezone
from django_q.models import Schedule

from billing.plans import PlanCode
from conversations.handoff_states import ALLOWED_TRANSITIONS, HandoffStatus
from conversations.models import AuthorKind, HandoffSession, HandoffTrigger, Message
from conversations.services import deadlines
from conversations.services.handoff import (
    handoff_accept,
    handoff_cancel,
    handoff_escalate,
    handoff_expire_if_due,
    handoff_reply,
    handoff_resolve,
    teammate,
)
from handoff_site.errors import ConflictError, NotFoundError, PermissionDeniedError
from orgs.roles import Role
from orgs.tests.factories import OrganizationFactory, member


def escalate(conversation, capture, **kwargs):
    with capture(execute=True):
        return handoff_escalate(conversation_id=conversation.pk, trigger=HandoffTrigger.GUARD,
                                reason="can I talk to a person?", summary="Needs help with order 1234", **kwargs)


def system_texts(conversation):
    return list(conversation.messages.filter(author_kind=AuthorKind.SYSTEM).values_list("text", flat=True))


def test_escalation_queues_a_session_tells_the_user_and_the_inbox(
    conversation, django_capture_on_commit_callbacks, inbox_events
):
    result = escalate(conversation, django_capture_on_commit_callbacks)

    session = result.session
    assert result.created and session.status == HandoffStatus.QUEUED
    conversation.refresh_from_db()
    assert conversation.mode == "human"
    assert system_texts(conversation) == [conversation.agent.queued_message]
    queued_notice = conversation.messages.get(author_kind=AuthorKind.SYSTEM)
    assert queued_notice.delivery_status == "sent"  # delivered to the widget by the worker task
    assert list(session.transitions.values_list("from_status", "to_status", "actor_kind")) == [
        (None, "queued", "ai")
    ]
    assert session.remind_at == session.queued_at + timedelta(minutes=3)
    assert session.expires_at == session.queued_at + timedelta(minutes=15)
    assert Schedule.objects.filter(name__in=[f"remind_if_still_queued:{session.pk}",
                                             f"expire_if_still_queued:{session.pk}"]).count() == 2
    events = inbox_events.events()
    queued = [event for event in events if event["type"] == "handoff.queued"]
    assert len(queued) == 1
    assert queued[0]["session"]["summary"] == "Needs help with order 1234"
    assert queued[0]["session"]["channel"] == "widget"
    assert any(event["type"] == "message.created" for event in events)


def test_escalating_twice_returns_the_open_session(conversation, django_capture_on_commit_callbacks):
    first = escalate(conversation, django_capture_on_commit_callbacks)
    second = escalate(conversation, django_capture_on_commit_callbacks)
    assert not second.created and second.session.pk == first.session.pk
    assert HandoffSession.objects.count() == 1
    assert len(system_texts(conversation)) == 1


def test_the_database_refuses_a_second_open_session(conversation, django_capture_on_commit_callbacks):
    session = escalate(conversation, django_capture_on_commit_callbacks).session
    with pytest.raises(IntegrityError), transaction.atomic():
        HandoffSession.objects.create(
            organization=session.organization, conversation=conversation, trigger="api",
            queued_at=timezone.now(), remind_at=timezone.now(), expires_at=timezone.now(),
        )


def test_events_leave_only_after_commit(conversation, inbox_events):
    with transaction.atomic():
        handoff_escalate(conversation_id=conversation.pk, trigger=HandoffTrigger.GUARD)
        assert inbox_events.events(timeout=0.2) == []
        transaction.set_rollback(True)
    assert inbox_events.events(timeout=0.2) == []
    assert not HandoffSession.objects.exists()


@pytest.mark.parametrize("plan", [PlanCode.FREE])
def test_a_plan_without_handoff_keeps_the_ai_and_says_why(conversation, plan, django_capture_on_commit_callbacks):
    conversation.organization.plan = plan
    conversation.organization.save()
    result = escalate(conversation, django_capture_on_commit_callbacks)
    assert result.session is None and result.refused.code == "plan_without_handoff"
    conversation.refresh_from_db()
    assert conversation.mode == "ai"
    assert system_texts(conversation) == [conversation.agent.unavailable_message]
    from orgs.models import AuditEvent
    why = AuditEvent.objects.get(organization=conversation.organization, action="handoff_refused")
    assert why.details["code"] == "plan_without_handoff"  # the admin sees why in the audit log


def test_handoff_switched_off_for_the_agent(conversation, django_capture_on_commit_callbacks):
    conversation.agent.handoff_enabled = False
    conversation.agent.save()
    result = escalate(conversation, django_capture_on_commit_callbacks)
    assert result.refused.code == "handoff_disabled"
    assert not HandoffSession.objects.exists()


def test_the_plans_open_session_limit_stops_at_its_number(agent, django_capture_on_commit_callbacks):
    from conversations.tests.factories import ConversationFactory
    from channels_gateway.tests.factories import ChannelConnectionFactory

    agent.organization.plan = PlanCode.STARTER  # 10 open sessions
    agent.organization.save()
    connection = ChannelConnectionFactory(agent=agent)
    results = [escalate(ConversationFactory(contact__connection=connection), django_capture_on_commit_callbacks)
               for _ in range(11)]
    assert [bool(result.session) for result in results] == [True] * 10 + [False]
    assert results[-1].refused.code == "open_sessions_limit"


def test_accept_assigns_the_teammate_and_tells_the_user(conversation, ana, django_capture_on_commit_callbacks,
                                                         inbox_events):
    session = escalate(conversation, django_capture_on_commit_callbacks).session
    with django_capture_on_commit_callbacks(execute=True):
        accepted = handoff_accept(session_id=session.pk, user=ana)
    assert accepted.status == "active" and accepted.assigned_to == ana
    assert system_texts(conversation)[-1] == "Ana from our team has joined the conversation."
    accepted_events = [e for e in inbox_events.events() if e["type"] == "handoff.accepted"]
    assert accepted_events[0]["session"]["assigned_to"] == {"id": ana.pk, "name": "Ana Silva"}


def test_the_second_accept_is_told_who_took_it(conversation, ana, ben, django_capture_on_commit_callbacks):
    session = escalate(conversation, django_capture_on_commit_callbacks).session
    handoff_accept(session_id=session.pk, user=ana)
    with pytest.raises(ConflictError) as refused:
        handoff_accept(session_id=session.pk, user=ben)
    assert refused.value.code == "already_accepted"
    assert refused.value.details["accepted_by"]["name"] == "Ana Silva"
    assert "Ana Silva already accepted" in refused.value.message


def test_only_the_holder_replies_and_resolves(conversation, ana, ben, django_capture_on_commit_callbacks):
    session = escalate(conversation, django_capture_on_commit_callbacks).session
    handoff_accept(session_id=session.pk, user=ana)
    with pytest.raises(ConflictError) as refused:
        handoff_reply(session_id=session.pk, user=ben, text="hi")
    assert refused.value.code == "not_assignee"
    with pytest.raises(ConflictError):
        handoff_resolve(session_id=session.pk, user=ben)


def test_resolve_hands_back_to_the_ai(conversation, ana, django_capture_on_commit_callbacks, inbox_events):
    session = escalate(conversation, django_capture_on_commit_callbacks).session
    handoff_accept(session_id=session.pk, user=ana)
    with django_capture_on_commit_callbacks(execute=True):
        reply = handoff_reply(session_id=session.pk, user=ana, text="Your refund is on its way.")
        handoff_resolve(session_id=session.pk, user=ana)
    reply.refresh_from_db()
    assert reply.author_kind == "teammate" and reply.delivery_status == "sent"
    conversation.refresh_from_db()
    assert conversation.mode == "ai"
    assert system_texts(conversation)[-1] == "Ana has handed the conversation back to me. " \
                                             "Is there anything else I can help with?"
    session.refresh_from_db()
    assert [t.to_status for t in session.transitions.all()] == ["queued", "active", "resolved"]
    assert [t.actor for t in session.transitions.all()] == [None, ana, ana]
    assert "handoff.resolved" in [event["type"] for event in inbox_events.events()]


@pytest.mark.parametrize("action", ["resolve", "reply"])
def test_a_queued_session_cannot_be_resolved_or_answered(conversation, ana, action,
                                                         django_capture_on_commit_callbacks):
    session = escalate(conversation, django_capture_on_commit_callbacks).session
    with pytest.raises(ConflictError) as refused:
        if action == "resolve":
            handoff_resolve(session_id=session.pk, user=ana)
        else:
            handoff_reply(session_id=session.pk, user=ana, text="hello")
    assert refused.value.code == "not_active"


def test_closed_sessions_accept_no_transition(conversation, ana, django_capture_on_commit_callbacks):
    session = escalate(conversation, django_capture_on_commit_callbacks).session
    handoff_cancel(session_id=session.pk, actor=teammate(ana))
    with pytest.raises(ConflictError):
        handoff_accept(session_id=session.pk, user=ana)
    assert ALLOWED_TRANSITIONS[HandoffStatus.CANCELLED] == frozenset()


def test_a_member_of_another_org_learns_nothing(conversation, django_capture_on_commit_callbacks):
    session = escalate(conversation, django_capture_on_commit_callbacks).session
    stranger = member(OrganizationFactory(), Role.OWNER)
    with pytest.raises(NotFoundError):
        handoff_accept(session_id=session.pk, user=stranger)


def test_a_viewer_may_look_but_not_accept(conversation, django_capture_on_commit_callbacks):
    session = escalate(conversation, django_capture_on_commit_callbacks).session
    viewer = member(conversation.organization, Role.VIEWER)
    with pytest.raises(PermissionDeniedError):
        handoff_accept(session_id=session.pk, user=viewer)


def test_expiry_returns_the_user_to_the_ai(conversation, django_capture_on_commit_callbacks, inbox_events):
    session = escalate(conversation, django_capture_on_commit_callbacks).session
    assert not handoff_expire_if_due(session_id=session.pk)  # not due yet
    with django_capture_on_commit_callbacks(execute=True):
        assert handoff_expire_if_due(session_id=session.pk, now=session.expires_at)
    session.refresh_from_db()
    conversation.refresh_from_db()
    assert session.status == "expired" and conversation.mode == "ai"
    assert system_texts(conversation)[-1] == conversation.agent.expired_message
    assert "handoff.expired" in [event["type"] for event in inbox_events.events()]


def test_expiry_of_an_accepted_session_does_nothing(conversation, ana, django_capture_on_commit_callbacks):
    session = escalate(conversation, django_capture_on_commit_callbacks).session
    handoff_accept(session_id=session.pk, user=ana)
    assert not handoff_expire_if_due(session_id=session.pk, now=session.expires_at + timedelta(minutes=1))
    session.refresh_from_db()
    assert session.status == "active"


def test_one_reminder_email_to_the_teammates_who_may_accept(conversation, ana, ben,
                                                            django_capture_on_commit_callbacks):
    member(conversation.organization, Role.VIEWER, email="viewer@example.test")
    owner = member(conversation.organization, Role.OWNER)
    session = escalate(conversation, django_capture_on_commit_callbacks).session
    HandoffSession.objects.filter(pk=session.pk).update(remind_at=timezone.now() - timedelta(seconds=1))

    assert deadlines.send_reminder_if_due(session_id=session.pk)
    assert not deadlines.send_reminder_if_due(session_id=session.pk)
    assert sorted(to for email in mail.outbox for to in email.to) == sorted([ana.email, ben.email, owner.email])
    assert "waiting" in mail.outbox[0].subject
    assert f"#session-{session.pk}" in mail.outbox[0].body
    assert "Needs help with order 1234" in mail.outbox[0].body


def test_no_reminder_once_accepted_or_before_time(conversation, ana, django_capture_on_commit_callbacks):
    session = escalate(conversation, django_capture_on_commit_callbacks).session
    assert not deadlines.send_reminder_if_due(session_id=session.pk)  # not due
    handoff_accept(session_id=session.pk, user=ana)
    HandoffSession.objects.filter(pk=session.pk).update(remind_at=timezone.now() - timedelta(seconds=1))
    assert not deadlines.send_reminder_if_due(session_id=session.pk)
    assert mail.outbox == []


def test_plans_without_email_reminders_send_none(conversation, ana, django_capture_on_commit_callbacks):
    conversation.organization.plan = PlanCode.STARTER
    conversation.organization.save()
    session = escalate(conversation, django_capture_on_commit_callbacks).session
    HandoffSession.objects.filter(pk=session.pk).update(remind_at=timezone.now() - timedelta(seconds=1))
    assert not deadlines.send_reminder_if_due(session_id=session.pk)
    assert mail.outbox == []


def test_the_minute_sweep_catches_whatever_was_missed(conversation, ana, django_capture_on_commit_callbacks):
    session = escalate(conversation, django_capture_on_commit_callbacks).session
    past = timezone.now() - timedelta(seconds=1)
    HandoffSession.objects.filter(pk=session.pk).update(remind_at=past, expires_at=past)
    with django_capture_on_commit_callbacks(execute=True):
        outcome = deadlines.sweep()
    assert outcome["reminded"] == 1 and outcome["expired"] == 1
    session.refresh_from_db()
    assert session.status == "expired"
    assert Message.objects.filter(conversation=conversation, text=conversation.agent.expired_message).exists()
