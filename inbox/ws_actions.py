"""What a teammate can ask over the inbox websocket: validated input, then one service call."""

from dataclasses import dataclass

from rest_framework import serializers

from channels_gateway.services import delivery_retry
from conversations.payloads import message_payload, session_payload
from conversations.selectors import CLOSED_STATUSES, HISTORY_PAGE, closed_sessions
from conversations.services import handoff
from inbox import services as inbox_services
from handoff_site.errors import ValidationError
from inbox.selectors import queue_page, session_transcript
from orgs.models import Organization
from orgs.permissions import authorize
from orgs.roles import OrgPermission


@dataclass(frozen=True)
class Socket:
    """The inbox tab asking: its organization and its channel name (its presence)."""

    organization: Organization
    channel_name: str


class SessionInput(serializers.Serializer):
    session_id = serializers.IntegerField(min_value=1)


class ReplyInput(SessionInput):
    text = serializers.CharField(max_length=20_000, trim_whitespace=True)


class TransferInput(SessionInput):
    to_user_id = serializers.IntegerField(min_value=1)


class MessageInput(serializers.Serializer):
    message_id = serializers.IntegerField(min_value=1)


class HistoryInput(serializers.Serializer):
    query = serializers.CharField(max_length=200, required=False, allow_blank=True, default="")
    status = serializers.ChoiceField(["closed", "resolved", "expired", "cancelled"], required=False,
                                     default="closed")
    channel = serializers.CharField(max_length=20, required=False, allow_blank=True, default="")
    agent_id = serializers.IntegerField(min_value=1, required=False, allow_null=True, default=None)
    before = serializers.DateTimeField(required=False, allow_null=True, default=None)


class QueueInput(serializers.Serializer):
    channel = serializers.CharField(max_length=20, required=False, allow_blank=True, default="")
    agent_id = serializers.IntegerField(min_value=1, required=False, allow_null=True, default=None)
    # The `next` of the page before: the last session shown.
    after_queued_at = serializers.DateTimeField(required=False, allow_null=True, default=None)
    after_id = serializers.IntegerField(min_value=1, required=False, allow_null=True, default=None)


def _valid(serializer_class, content: dict) -> dict:
    serializer = serializer_class(data=content)
    if not serializer.is_valid():
        field, problems = next(iter(serializer.errors.items()))
        raise ValidationError(f"{field}: {problems[0]}", code="invalid_input", field=field)
    return serializer.validated_data


def accept(user, content: dict, socket: "Socket") -> dict:
    session = handoff.handoff_accept(session_id=_valid(SessionInput, content)["session_id"], user=user)
    return {"session": session_payload(session)}


def reply(user, content: dict, socket: "Socket") -> dict:
    data = _valid(ReplyInput, content)
    message = handoff.handoff_reply(session_id=data["session_id"], user=user, text=data["text"])
    return {"message": message_payload(message)}


def resolve(user, content: dict, socket: "Socket") -> dict:
    session = handoff.handoff_resolve(session_id=_valid(SessionInput, content)["session_id"], user=user)
    return {"session": session_payload(session)}


def transcript(user, content: dict, socket: "Socket") -> dict:
    return session_transcript(user=user, session_id=_valid(SessionInput, content)["session_id"])


def note(user, content: dict, socket: "Socket") -> dict:
    data = _valid(ReplyInput, content)
    return {"message": inbox_services.note_add(session_id=data["session_id"], user=user, text=data["text"])}


def transfer(user, content: dict, socket: "Socket") -> dict:
    data = _valid(TransferInput, content)
    session = inbox_services.transfer_to_online_teammate(
        session_id=data["session_id"], user=user, to_user_id=data["to_user_id"]
    )
    return {"session": session_payload(session)}


def retry_delivery(user, content: dict, socket: "Socket") -> dict:
    message = delivery_retry(message_id=_valid(MessageInput, content)["message_id"], user=user)
    return {"message": message_payload(message)}


def history(user, content: dict, socket: "Socket") -> dict:
    authorize(user, socket.organization, OrgPermission.VIEW_INBOX)
    data = _valid(HistoryInput, content)
    statuses = CLOSED_STATUSES if data["status"] == "closed" else (data["status"],)
    sessions = closed_sessions(
        organization=socket.organization, query=data["query"].strip(), statuses=statuses, channel=data["channel"],
        agent_id=data["agent_id"], before=data["before"],
    )
    return {
        "sessions": [session_payload(session) for session in sessions],
        "next_before": sessions[-1].closed_at.isoformat() if len(sessions) == HISTORY_PAGE else None,
    }


def queue(user, content: dict, socket: "Socket") -> dict:
    """The next page of waiting sessions (the snapshot carries the first), or the first page
    for a channel or AI agent."""
    authorize(user, socket.organization, OrgPermission.VIEW_INBOX)
    data = _valid(QueueInput, content)
    after = (data["after_queued_at"], data["after_id"]) if data["after_queued_at"] and data["after_id"] else None
    return queue_page(organization=socket.organization, channel=data["channel"], agent_id=data["agent_id"],
                      after=after)


def typing(user, content: dict, socket: "Socket") -> None:
    inbox_services.teammate_typing(session_id=_valid(SessionInput, content)["session_id"], user=user)


def presence(user, content: dict, socket: "Socket") -> None:
    inbox_services.tab_state(channel_name=socket.channel_name, state=str(content.get("state", "")))


# Each answers with a result frame.
ACTIONS = {
    "accept": accept, "reply": reply, "resolve": resolve, "transcript": transcript, "note": note,
    "transfer": transfer, "retry_delivery": retry_delivery, "history": history, "queue": queue,
}
# Signals: no answer unless they fail. (`ping` is the consumer's own: it needs no database.)
SIGNALS = {"typing": typing, "presence": presence}
