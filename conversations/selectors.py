from datetime import datetime

from django.db.models import Exists, OuterRef, Prefetch, Q, QuerySet

from conversations.handoff_states import OPEN_STATUSES, HandoffStatus
from conversations.models import AIReplyState, Conversation, HandoffSession, Message
from handoff_site.errors import NotFoundError
from orgs.models import Organization
from orgs.permissions import authorize
from orgs.roles import OrgPermission


def _sessions_with_relations() -> QuerySet[HandoffSession]:
    return HandoffSession.objects.select_related(
        "conversation__agent", "conversation__contact", "conversation__connection", "assigned_to"
    )


def inbox_sessions(*, organization: Organization) -> QuerySet[HandoffSession]:
    """The queue and the live chats of one org, oldest waiting first. Page it: a busy org's
    queue holds thousands."""
    return _sessions_with_relations().filter(organization=organization, status__in=OPEN_STATUSES).order_by(
        "queued_at", "pk"
    )


def live_sessions(*, organization: Organization) -> QuerySet[HandoffSession]:
    """The chats teammates hold now, oldest first: as many as people can hold at once."""
    return _sessions_with_relations().filter(organization=organization, status=HandoffStatus.ACTIVE).order_by(
        "queued_at", "pk"
    )


def waiting_sessions(
    *, organization: Organization, channel: str = "", agent_id: int | None = None,
    after: tuple[datetime, int] | None = None,
) -> QuerySet[HandoffSession]:
    """The queue, longest waiting first; `after` is the (queued_at, id) of the last one already shown."""
    sessions = _sessions_with_relations().filter(organization=organization, status=HandoffStatus.QUEUED)
    if channel:
        sessions = sessions.filter(conversation__connection__platform=channel)
    if agent_id:
        sessions = sessions.filter(conversation__agent_id=agent_id)
    if after:
        queued_at, pk = after
        sessions = sessions.filter(Q(queued_at__gt=queued_at) | Q(queued_at=queued_at, pk__gt=pk))
    return sessions.order_by("queued_at", "pk")


def session_for_viewer(*, user, session_id: int) -> HandoffSession:
    """A session the user may see; anything else is the same 404."""
    session = _sessions_with_relations().filter(pk=session_id).select_related("organization").first()
    if session is None:
        raise NotFoundError("No such handoff session.")
    authorize(user, session.organization, OrgPermission.VIEW_INBOX)
    return session


def transcript(*, session: HandoffSession, limit: int = 500) -> list[Message]:
    newest_first = (
        session.conversation.messages.select_related("author_user", "conversation__agent", "conversation__contact")
        .order_by("-created_at", "-pk")[:limit]
    )
    return list(reversed(newest_first))


def overdue_session_ids(*, now: datetime) -> tuple[list[int], list[int]]:
    """Queued sessions past a deadline: (to remind, to expire). The minute sweep's safety net."""
    queued = HandoffSession.objects.filter(status=HandoffStatus.QUEUED)
    to_remind = list(queued.filter(remind_at__lte=now, reminder_sent_at__isnull=True).values_list("pk", flat=True))
    to_expire = list(queued.filter(expires_at__lte=now).values_list("pk", flat=True))
    return to_remind, to_expire


def unanswered_message_ids(*, pending_before: datetime, started_before: datetime) -> list[int]:
    """User messages whose AI turn never ran, or whose worker died mid-turn."""
    return list(
        Message.objects.filter(
            Q(ai_reply_state=AIReplyState.PENDING, created_at__lt=pending_before)
            | Q(ai_reply_state=AIReplyState.STARTED, ai_turn_started_at__lt=started_before)
        ).values_list("pk", flat=True)
    )


CLOSED_STATUSES = (HandoffStatus.RESOLVED, HandoffStatus.EXPIRED, HandoffStatus.CANCELLED)
HISTORY_PAGE = 50
# What was said is searched from three characters on: the trigram index needs as many
# (a shorter query would read every message); contact names are searched at any length.
MIN_WORDS_QUERY = 3


def closed_sessions(
    *, organization: Organization, query: str = "", statuses: tuple[str, ...] = CLOSED_STATUSES,
    channel: str = "", agent_id: int | None = None, before: datetime | None = None,
) -> list[HandoffSession]:
    """History: closed sessions, newest first, found by contact name or by what was said."""
    sessions = _sessions_with_relations().filter(organization=organization, status__in=statuses,
                                                 closed_at__isnull=False)
    if channel:
        sessions = sessions.filter(conversation__connection__platform=channel)
    if agent_id:
        sessions = sessions.filter(conversation__agent_id=agent_id)
    if before:
        sessions = sessions.filter(closed_at__lt=before)
    newest_first = sessions.order_by("-closed_at", "-pk")
    if not query:
        return list(newest_first[:HISTORY_PAGE])
    # One query per way of matching, merged here: as one OR, PostgreSQL would read every
    # closed session of the org; apart, each finds its rows through its own index (the
    # trigram indexes of migration 0004) or stops after a page of recent matches.
    named = Conversation.objects.filter(organization=organization, contact__display_name__icontains=query)
    found = list(newest_first.filter(conversation__in=named.values("pk"))[:HISTORY_PAGE])
    if len(query) >= MIN_WORDS_QUERY:
        said = Message.objects.filter(organization=organization, text__icontains=query)
        found += newest_first.filter(conversation__in=said.values("conversation_id"))[:HISTORY_PAGE]
    unique = {session.pk: session for session in found}.values()
    return sorted(unique, key=lambda session: (session.closed_at, session.pk), reverse=True)[:HISTORY_PAGE]


def api_conversations(
    *, organization: Organization, status: str = "", channel: str = "", agent_id: int | None = None,
    updated_since: datetime | None = None,
) -> QuerySet[Conversation]:
    """An org's conversations for the REST API, each with its open handoff (`open_sessions`)."""
    conversations = Conversation.objects.filter(organization=organization).select_related(
        "connection", "contact", "agent"
    ).prefetch_related(
        # The prefetch sets each session's conversation to the row above: joining it again
        # would build every conversation, contact, agent and connection twice.
        Prefetch("handoff_sessions", queryset=HandoffSession.objects.select_related("assigned_to")
                 .filter(status__in=OPEN_STATUSES), to_attr="open_sessions")
    )
    if status in ("ai", "human"):
        conversations = conversations.filter(mode=status)
    elif status in OPEN_STATUSES:
        conversations = conversations.filter(
            Exists(HandoffSession.objects.filter(conversation_id=OuterRef("pk"), status=status))
        )
    if channel:
        conversations = conversations.filter(connection__platform=channel)
    if agent_id:
        conversations = conversations.filter(agent_id=agent_id)
    if updated_since:
        conversations = conversations.filter(last_message_at__gte=updated_since)
    return conversations


def api_conversation(*, organization: Organization, conversation_id: int) -> Conversation:
    conversation = api_conversations(organization=organization).filter(pk=conversation_id).first()
    if conversation is None:
        raise NotFoundError("No such conversation.")
    return conversation


def api_messages(*, conversation: Conversation) -> QuerySet[Message]:
    return conversation.messages.select_related("author_user", "conversation__agent", "conversation__contact")


def api_session(*, organization: Organization, session_id: int) -> HandoffSession:
    session = _sessions_with_relations().filter(pk=session_id, organization=organization).first()
    if session is None:
        raise NotFoundError("No such handoff session.")
    return session
