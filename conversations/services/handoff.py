"""The handoff state machine's one writer.

Every status change goes through `_transition`: the session row is locked, the move is
checked against `ALLOWED_TRANSITIONS`, the row is saved with `update_fields`, and the
timeline gets a row with the actor and the time. Events and messages leave on commit.
"""

from dataclasses import dataclass
from datetime import datetime, timedelta

from django.db import transaction
from django.utils import timezone

from billing.entitlements import Entitlement, can_open_handoff
from conversations import events
from conversations.handoff_states import OPEN_STATUSES, HandoffStatus, can_transition
from conversations.models import (
    AuthorKind,
    Conversation,
    ConversationMode,
    HandoffSession,
    HandoffTransition,
    HandoffTrigger,
)
from conversations.payloads import display_name, public_name
from conversations.services.messages import answer_what_was_asked_while_queued, post_message_to_contact
from handoff_site.task_queue import schedule_once
from handoff_site.errors import ConflictError, NotFoundError, PermissionDeniedError, ValidationError
from orgs.permissions import authorize, has_org_permission
from orgs.models import AuditAction, Organization
from orgs.roles import OrgPermission
from orgs.services import audit_record


@dataclass(frozen=True)
class Actor:
    kind: str  # teammate, ai, system, api
    user: object | None = None


SYSTEM = Actor("system")
AI = Actor("ai")


def teammate(user) -> Actor:
    return Actor("teammate", user)


@dataclass(frozen=True)
class EscalationResult:
    session: HandoffSession | None
    created: bool
    refused: Entitlement | None = None


def _locked_session(session_id: int) -> HandoffSession:
    try:
        return HandoffSession.objects.select_for_update(no_key=True).get(pk=session_id)
    except HandoffSession.DoesNotExist:
        raise NotFoundError("No such handoff session.") from None


def _with_relations(session: HandoffSession) -> HandoffSession:
    """The locked row plus what events and messages need, without locking joined rows."""
    return (
        HandoffSession.objects.select_related(
            "conversation__agent", "conversation__contact", "conversation__connection", "assigned_to", "organization"
        ).get(pk=session.pk)
    )


def _transition(session: HandoffSession, to_status: str, actor: Actor, *, note: str = "", **fields) -> None:
    from_status = session.status if session.pk else None
    if not can_transition(from_status, to_status):
        raise ConflictError(
            f"A {from_status} handoff cannot become {to_status}.", code="invalid_transition",
            status=from_status,
        )
    session.status = to_status
    for name, value in fields.items():
        setattr(session, name, value)
    if from_status is None:
        session.save()
    else:
        session.save(update_fields=["status", *fields])
    HandoffTransition.objects.create(
        session=session, from_status=from_status, to_status=to_status,
        actor=actor.user, actor_kind=actor.kind, note=note,
    )


def _audit(session: HandoffSession, user, action: AuditAction, **details) -> None:
    # In the caller's transaction: the audit line exists exactly when the transition does.
    audit_record(organization=session.organization, actor=user, action=action, target=f"handoff {session.pk}",
                 details={"conversation_id": session.conversation_id, **details})


def _set_mode(conversation: Conversation, mode: str) -> None:
    conversation.mode = mode
    conversation.save(update_fields=["mode"])


def _personalised(template: str, user) -> str:
    return template.replace("{teammate}", public_name(user) if user else "A teammate")


def _schedule_deadline(task: str, session: HandoffSession, when: datetime) -> None:
    # A row in the same transaction: the deadline exists exactly when the session does.
    schedule_once(f"{task.rsplit('.', 1)[-1]}:{session.pk}", task, session.pk, at=when)


def handoff_escalate(
    *,
    conversation_id: int,
    trigger: HandoffTrigger,
    reason: str = "",
    summary: str = "",
    actor: Actor = AI,
) -> EscalationResult:
    """Queue a handoff for the conversation, or say why not. An open session is returned as is."""
    with transaction.atomic():
        conversation = Conversation.objects.select_related("agent").get(pk=conversation_id)
        # Lock order: organization, then conversation. The org lock makes the plan's
        # concurrent-sessions limit exact under concurrent escalations.
        organization = Organization.objects.select_for_update(no_key=True).get(pk=conversation.organization_id)
        conversation = Conversation.objects.select_for_update(no_key=True).get(pk=conversation_id)
        agent = conversation.agent
        open_session = HandoffSession.objects.filter(conversation=conversation, status__in=OPEN_STATUSES).first()
        if open_session:
            return EscalationResult(open_session, created=False)

        refused = None
        if not agent.handoff_enabled:
            refused = Entitlement(False, "handoff_disabled", f"Handoff is switched off for {agent.name}.")
        else:
            open_count = HandoffSession.objects.filter(organization=organization, status__in=OPEN_STATUSES).count()
            entitlement = can_open_handoff(organization=organization, open_sessions=open_count)
            refused = None if entitlement.allowed else entitlement
        if refused:
            post_message_to_contact(conversation=conversation, author_kind=AuthorKind.SYSTEM,
                                    text=agent.unavailable_message)
            audit_record(organization=organization, actor=None, action=AuditAction.HANDOFF_REFUSED,
                         target=f"conversation {conversation.pk}",
                         details={"code": refused.code, "reason": refused.reason})
            return EscalationResult(None, created=False, refused=refused)

        now = timezone.now()
        session = HandoffSession(
            organization=organization,
            conversation=conversation,
            trigger=trigger,
            reason=reason[:2000],
            summary=summary,
            queued_at=now,
            remind_at=now + timedelta(minutes=agent.reminder_after_minutes),
            expires_at=now + timedelta(minutes=agent.expire_after_minutes),
        )
        _transition(session, HandoffStatus.QUEUED, actor, note=reason[:500])
        _set_mode(conversation, ConversationMode.HUMAN)
        _schedule_deadline("conversations.tasks.remind_if_still_queued", session, session.remind_at)
        _schedule_deadline("conversations.tasks.expire_if_still_queued", session, session.expires_at)
        # Published first: each event goes to every open inbox in turn, and the queued session is
        # what teammates wait for, not the notice to the user (bench/perf, figure 4).
        events.publish_handoff_event(_with_relations(session), "handoff.queued")
        post_message_to_contact(conversation=conversation, author_kind=AuthorKind.SYSTEM, text=agent.queued_message)
    return EscalationResult(session, created=True)


def handoff_accept(*, session_id: int, user) -> HandoffSession:
    """Exactly one teammate wins: the row lock makes the others see who took it."""
    with transaction.atomic():
        session = _locked_session(session_id)
        authorize(user, session.organization, OrgPermission.HANDLE_CONVERSATIONS)
        if session.status == HandoffStatus.ACTIVE:
            holder = display_name(session.assigned_to)
            raise ConflictError(
                f"{holder} already accepted this conversation.", code="already_accepted",
                accepted_by={"id": session.assigned_to_id, "name": holder},
            )
        if session.status != HandoffStatus.QUEUED:
            raise ConflictError(f"This conversation is no longer waiting ({session.status}).", code="not_waiting",
                                status=session.status)
        _transition(session, HandoffStatus.ACTIVE, teammate(user), assigned_to=user, accepted_at=timezone.now())
        _audit(session, user, AuditAction.HANDOFF_ACCEPTED)
        session = _with_relations(session)
        post_message_to_contact(
            conversation=session.conversation, author_kind=AuthorKind.SYSTEM,
            text=_personalised(session.conversation.agent.accepted_message, user),
        )
        events.publish_handoff_event(session, "handoff.accepted")
    return session


def _require_holder(session: HandoffSession, user) -> None:
    if session.status != HandoffStatus.ACTIVE:
        raise ConflictError(f"This conversation is not live ({session.status}).", code="not_active",
                            status=session.status)
    if session.assigned_to_id != user.pk:
        raise ConflictError(
            f"{display_name(session.assigned_to)} is handling this conversation.", code="not_assignee",
        )


def handoff_reply(*, session_id: int, user, text: str):
    """A teammate's message to the user, on the user's channel."""
    text = (text or "").strip()
    if not text:
        raise ValidationError("A reply needs some text.", code="empty_message")
    with transaction.atomic():
        session = _locked_session(session_id)
        authorize(user, session.organization, OrgPermission.HANDLE_CONVERSATIONS)
        _require_holder(session, user)
        conversation = Conversation.objects.select_related("agent", "contact").get(pk=session.conversation_id)
        return post_message_to_contact(
            conversation=conversation, author_kind=AuthorKind.TEAMMATE, text=text, author_user=user
        )


def handoff_transfer(*, session_id: int, user, to_user) -> HandoffSession:
    """The holder hands a live conversation to another teammate, who joins at once."""
    with transaction.atomic():
        session = _locked_session(session_id)
        authorize(user, session.organization, OrgPermission.HANDLE_CONVERSATIONS)
        _require_holder(session, user)
        if to_user.pk == user.pk:
            raise ValidationError("You already hold this conversation.", code="invalid_input", field="to_user_id")
        if not has_org_permission(to_user, session.organization, OrgPermission.HANDLE_CONVERSATIONS):
            raise PermissionDeniedError(f"{display_name(to_user)} cannot handle conversations.",
                                        code="permission_denied")
        _transition(session, HandoffStatus.ACTIVE, teammate(user), note=f"Transferred to {display_name(to_user)}",
                    assigned_to=to_user)
        _audit(session, user, AuditAction.HANDOFF_TRANSFERRED,
               to_user_id=to_user.pk, to_user=display_name(to_user))
        session = _with_relations(session)
        post_message_to_contact(
            conversation=session.conversation, author_kind=AuthorKind.SYSTEM,
            text=_personalised(session.conversation.agent.accepted_message, to_user),
        )
        events.publish_handoff_event(session, "handoff.transferred")
    return session


def handoff_resolve(*, session_id: int, user) -> HandoffSession:
    """Hand the conversation back to the AI and tell the user."""
    with transaction.atomic():
        session = _locked_session(session_id)
        authorize(user, session.organization, OrgPermission.HANDLE_CONVERSATIONS)
        _require_holder(session, user)
        _transition(session, HandoffStatus.RESOLVED, teammate(user), closed_at=timezone.now())
        _audit(session, user, AuditAction.HANDOFF_RESOLVED)
        session = _with_relations(session)
        _set_mode(session.conversation, ConversationMode.AI)
        post_message_to_contact(
            conversation=session.conversation, author_kind=AuthorKind.SYSTEM,
            text=_personalised(session.conversation.agent.resolved_message, user),
        )
        events.publish_handoff_event(session, "handoff.resolved")
    return session


def handoff_cancel(*, session_id: int, actor: Actor, note: str = "") -> HandoffSession:
    """Withdraw a queued or live handoff (the escalating agent stepped back in); the AI resumes."""
    with transaction.atomic():
        session = _locked_session(session_id)
        if session.status not in OPEN_STATUSES:
            raise ConflictError(f"This handoff is already {session.status}.", code="not_open", status=session.status)
        _transition(session, HandoffStatus.CANCELLED, actor, note=note, closed_at=timezone.now())
        session = _with_relations(session)
        _set_mode(session.conversation, ConversationMode.AI)
        events.publish_handoff_event(session, "handoff.cancelled")
    return session


def handoff_expire_if_due(*, session_id: int, now: datetime | None = None) -> bool:
    """Nobody accepted in time: tell the user and return them to the AI. Accepted meanwhile: nothing."""
    now = now or timezone.now()
    with transaction.atomic():
        try:
            session = _locked_session(session_id)
        except NotFoundError:
            return False
        if session.status != HandoffStatus.QUEUED or session.expires_at > now:
            return False
        _transition(session, HandoffStatus.EXPIRED, SYSTEM, closed_at=now)
        session = _with_relations(session)
        _set_mode(session.conversation, ConversationMode.AI)
        post_message_to_contact(
            conversation=session.conversation, author_kind=AuthorKind.SYSTEM,
            text=session.conversation.agent.expired_message,
        )
        answer_what_was_asked_while_queued(conversation=session.conversation, since=session.queued_at)
        events.publish_handoff_event(session, "handoff.expired")
    return True


def claim_reminder(*, session_id: int, now: datetime) -> bool:
    """Take the right to send this session's one reminder. False if accepted, sent, or not due."""
    return bool(
        HandoffSession.objects.filter(
            pk=session_id, status=HandoffStatus.QUEUED, reminder_sent_at__isnull=True, remind_at__lte=now
        ).update(reminder_sent_at=now)
    )


def release_reminder(*, session_id: int) -> None:
    """Sending failed: let the next sweep try again."""
    HandoffSession.objects.filter(pk=session_id).update(reminder_sent_at=None)
