"""What a teammate can ask over the inbox websocket: validated input, then one service call."""

from rest_framework import serializers

from conversations.payloads import message_payload, session_payload
from conversations.services import handoff
from handoff_site.errors import ValidationError
from inbox.selectors import session_transcript


class SessionInput(serializers.Serializer):
    session_id = serializers.IntegerField(min_value=1)


class ReplyInput(SessionInput):
    text = serializers.CharField(max_length=20_000, trim_whitespace=True)


def _valid(serializer_class, content: dict) -> dict:
    serializer = serializer_class(data=content)
    if not serializer.is_valid():
        field, problems = next(iter(serializer.errors.items()))
        raise ValidationError(f"{field}: {problems[0]}", code="invalid_input", field=field)
    return serializer.validated_data


def accept(user, content: dict) -> dict:
    session = handoff.handoff_accept(session_id=_valid(SessionInput, content)["session_id"], user=user)
    return {"session": session_payload(session)}


def reply(user, content: dict) -> dict:
    data = _valid(ReplyInput, content)
    message = handoff.handoff_reply(session_id=data["session_id"], user=user, text=data["text"])
    return {"message": message_payload(message)}


def resolve(user, content: dict) -> dict:
    session = handoff.handoff_resolve(session_id=_valid(SessionInput, content)["session_id"], user=user)
    return {"session": session_payload(session)}


def transcript(user, content: dict) -> dict:
    return session_transcript(user=user, session_id=_valid(SessionInput, content)["session_id"])


ACTIONS = {"accept": accept, "reply": reply, "resolve": resolve, "transcript": transcript}
