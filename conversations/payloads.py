"""Typed shapes of what the inbox and the widget receive, built from model rows.

One builder per shape, used for live events, snapshots and transcripts alike, so a
field never means two things.
"""

from dataclasses import asdict, dataclass

from conversations.models import HandoffSession, HandoffTransition, Message


def display_name(user) -> str:
    if user is None:
        return ""
    return user.get_full_name() or user.get_username()


@dataclass(frozen=True, slots=True)
class PersonRef:
    id: int
    name: str


@dataclass(frozen=True, slots=True)
class SessionPayload:
    id: int
    status: str
    conversation_id: int
    channel: str
    channel_label: str
    contact: PersonRef
    agent: PersonRef
    summary: str
    reason: str
    trigger: str
    queued_at: str
    accepted_at: str | None
    closed_at: str | None
    assigned_to: PersonRef | None


@dataclass(frozen=True, slots=True)
class MessagePayload:
    id: int
    conversation_id: int
    author_kind: str
    author_name: str
    text: str
    created_at: str
    delivery_status: str
    delivery_error: str
    author_id: int | None = None  # the teammate who wrote it


@dataclass(frozen=True, slots=True)
class TransitionPayload:
    session_id: int
    from_status: str | None
    to_status: str
    actor_name: str
    actor_kind: str
    created_at: str
    note: str = ""  # e.g. "Transferred to Ben Okafor"


def _iso(value) -> str | None:
    return value.isoformat() if value else None


def session_payload(session: HandoffSession) -> dict:
    conversation = session.conversation
    connection = conversation.connection
    assigned = session.assigned_to
    return asdict(
        SessionPayload(
            id=session.pk,
            status=session.status,
            conversation_id=conversation.pk,
            channel=connection.platform,
            channel_label=connection.get_platform_display(),
            contact=PersonRef(conversation.contact_id, str(conversation.contact)),
            agent=PersonRef(conversation.agent_id, conversation.agent.name),
            summary=session.summary,
            reason=session.reason,
            trigger=session.trigger,
            queued_at=_iso(session.queued_at),
            accepted_at=_iso(session.accepted_at),
            closed_at=_iso(session.closed_at),
            assigned_to=PersonRef(assigned.pk, display_name(assigned)) if assigned else None,
        )
    )


def message_author_name(message: Message) -> str:
    if message.author_kind == "teammate":
        return display_name(message.author_user)
    if message.author_kind == "ai":
        return message.conversation.agent.name
    if message.author_kind == "user":
        return str(message.conversation.contact)
    return ""


def public_name(user) -> str:
    """The name an end user sees for a teammate: first name only."""
    return user.first_name or user.get_username()


def public_author_name(message: Message) -> str:
    if message.author_kind == "teammate" and message.author_user is not None:
        return public_name(message.author_user)
    return message_author_name(message)


def message_payload(message: Message) -> dict:
    return asdict(
        MessagePayload(
            id=message.pk,
            conversation_id=message.conversation_id,
            author_kind=message.author_kind,
            author_name=message_author_name(message),
            text=message.text,
            created_at=message.created_at.isoformat(),
            delivery_status=message.delivery_status,
            delivery_error=message.delivery_error,
            author_id=message.author_user_id,
        )
    )


def transition_payload(transition: HandoffTransition) -> dict:
    return asdict(
        TransitionPayload(
            session_id=transition.session_id,
            from_status=transition.from_status,
            to_status=transition.to_status,
            actor_name=display_name(transition.actor),
            actor_kind=transition.actor_kind,
            created_at=transition.created_at.isoformat(),
            note=transition.note,
        )
    )
