from conversations.models import HandoffSession
from conversations.payloads import display_name, message_payload, session_payload, transition_payload
from conversations.selectors import inbox_sessions, session_for_viewer, transcript
from orgs.models import Organization
from orgs.permissions import has_org_permission
from orgs.roles import OrgPermission


def inbox_snapshot(*, user, organization: Organization) -> dict:
    """Everything an inbox needs on (re)connect: it replaces whatever the page had."""
    return {
        "type": "snapshot",
        "organization": {"id": organization.pk, "name": organization.name},
        "me": {
            "id": user.pk,
            "name": display_name(user),
            "can_handle": has_org_permission(user, organization, OrgPermission.HANDLE_CONVERSATIONS),
        },
        "sessions": [session_payload(session) for session in inbox_sessions(organization=organization)],
    }


def session_transcript(*, user, session_id: int) -> dict:
    session: HandoffSession = session_for_viewer(user=user, session_id=session_id)
    return {
        "session": session_payload(session),
        "messages": [message_payload(message) for message in transcript(session=session)],
        "timeline": [
            transition_payload(transition)
            for transition in session.transitions.select_related("actor").order_by("created_at", "pk")
        ],
    }
