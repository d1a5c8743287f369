from collections import defaultdict

from django.db.models import Count
from django.utils import timezone

from channels_gateway.models import ChannelConnection, Platform
from conversations.handoff_states import HandoffStatus
from conversations.models import AIAgent, HandoffSession
from conversations.payloads import display_name, message_payload, session_payload, transition_payload
from conversations.selectors import live_sessions, session_for_viewer, transcript, waiting_sessions
from inbox.models import CannedReply, InboxTab, InternalNote
from inbox.presence import TAB_TIMEOUT, presence_from
from orgs.models import Membership, Organization
from orgs.permissions import has_org_permission
from orgs.roles import ROLE_PERMISSIONS, OrgPermission, Role


def inbox_snapshot(*, user, organization: Organization, position: dict | None = None) -> dict:
    """Everything an inbox needs on (re)connect: it replaces whatever the page had.

    `position` is the inbox stream's position read before these queries (the caller reads
    it): events at or below it are already in here, later ones are applied on top.
    """
    snapshot = {
        "type": "snapshot",
        "epoch": position["epoch"] if position else None,
        "seq": position["seq"] if position else None,
        "organization": {"id": organization.pk, "name": organization.name},
        "me": {
            "id": user.pk,
            "name": display_name(user),
            "can_handle": has_org_permission(user, organization, OrgPermission.HANDLE_CONVERSATIONS),
        },
        # Every live chat, and the queue's first page: a busy org's queue holds thousands.
        "sessions": [session_payload(session) for session in live_sessions(organization=organization)],
        "queue": queue_page(organization=organization),
        "teammates": teammates(organization=organization),
        "canned_replies": [
            {"id": reply.pk, "title": reply.title, "text": reply.text}
            for reply in CannedReply.objects.filter(organization=organization)
        ],
        "channels": [
            {"value": platform, "label": Platform(platform).label}
            for platform in ChannelConnection.objects.filter(organization=organization)
            .order_by("platform").values_list("platform", flat=True).distinct()
        ],
        "agents": list(AIAgent.objects.filter(organization=organization).order_by("name").values("id", "name")),
    }
    snapshot["sessions"] += snapshot["queue"].pop("sessions")
    snapshot["me"]["presence"] = next(
        (teammate["presence"] for teammate in snapshot["teammates"] if teammate["id"] == user.pk), "offline"
    )
    return snapshot


QUEUE_PAGE = 100


def queue_page(*, organization: Organization, channel: str = "", agent_id: int | None = None,
               after: tuple | None = None) -> dict:
    """A page of the queue, longest waiting first: `waiting` counts all that match, `next`
    is the `after` of the following page (None on the last)."""
    matching = waiting_sessions(organization=organization, channel=channel, agent_id=agent_id)
    page = list(waiting_sessions(organization=organization, channel=channel, agent_id=agent_id,
                                 after=after)[:QUEUE_PAGE + 1])
    more, page = len(page) > QUEUE_PAGE, page[:QUEUE_PAGE]
    return {
        "sessions": [session_payload(session) for session in page],
        "waiting": matching.count(),
        "next": {"queued_at": page[-1].queued_at.isoformat(), "id": page[-1].pk} if more else None,
    }


def session_transcript(*, user, session_id: int) -> dict:
    session: HandoffSession = session_for_viewer(user=user, session_id=session_id)
    return {
        "session": session_payload(session),
        "messages": sorted(
            [message_payload(message) for message in transcript(session=session)]
            + [note_payload(note) for note in InternalNote.objects.filter(conversation=session.conversation)
               .select_related("author")],
            key=lambda item: item["created_at"],
        ),
        "timeline": [
            transition_payload(transition)
            for transition in session.transitions.select_related("actor").order_by("created_at", "pk")
        ],
    }


def note_payload(note: InternalNote) -> dict:
    """Shaped like a message (author_kind "note") so the transcript shows it in line;
    its id is a string so it never collides with a message id."""
    return {
        "id": f"note-{note.pk}", "conversation_id": note.conversation_id, "author_kind": "note",
        "author_name": display_name(note.author), "text": note.text, "created_at": note.created_at.isoformat(),
        "delivery_status": "", "delivery_error": "", "author_id": note.author_id,
    }


def live_tab_states(*, organization: Organization, user_ids=None) -> dict[int, list[str]]:
    tabs = InboxTab.objects.filter(organization=organization, last_seen_at__gte=timezone.now() - TAB_TIMEOUT)
    if user_ids is not None:
        tabs = tabs.filter(user_id__in=user_ids)
    states: dict[int, list[str]] = defaultdict(list)
    for user_id, state in tabs.values_list("user_id", "state"):
        states[user_id].append(state)
    return states


def teammates(*, organization: Organization, user_ids=None) -> list[dict]:
    """Every member with presence and the live sessions they hold."""
    memberships = Membership.objects.filter(organization=organization, user__is_active=True).select_related("user")
    if user_ids is not None:
        memberships = memberships.filter(user_id__in=user_ids)
    states = live_tab_states(organization=organization, user_ids=user_ids)
    held = dict(
        HandoffSession.objects.filter(organization=organization, status=HandoffStatus.ACTIVE)
        .values_list("assigned_to").annotate(count=Count("pk"))
    )
    return [
        {
            "id": membership.user_id,
            "name": display_name(membership.user),
            "presence": presence_from(states.get(membership.user_id, [])),
            "active_sessions": held.get(membership.user_id, 0),
            "can_handle": OrgPermission.HANDLE_CONVERSATIONS in ROLE_PERMISSIONS[Role(membership.role)],
        }
        for membership in sorted(memberships, key=lambda m: display_name(m.user).casefold())
    ]


def teammate(*, organization: Organization, user_id: int) -> dict | None:
    found = teammates(organization=organization, user_ids=[user_id])
    return found[0] if found else None
