"""A conversation as the model sees it: user turns and assistant turns, the human part included."""

from dataclasses import dataclass

from conversations.models import AuthorKind, Message
from conversations.payloads import message_author_name

# Enough context for the model and the summary; older turns rarely change the answer.
TRANSCRIPT_LIMIT = 60


@dataclass(frozen=True)
class Turn:
    role: str  # "user" or "assistant"
    text: str
    message_id: int | None = None


def turn_for(message: Message) -> Turn:
    if message.author_kind == AuthorKind.USER:
        text = message.text
    elif message.author_kind == AuthorKind.TEAMMATE:
        text = f"[{message_author_name(message)}, a human teammate, wrote]: {message.text}"
    elif message.author_kind == AuthorKind.SYSTEM:
        text = f"[notice sent to the user]: {message.text}"
    else:
        text = message.text
    return Turn("user" if message.author_kind == AuthorKind.USER else "assistant", text, message.pk)


def recent_turns(conversation, *, up_to_message_id: int | None = None) -> list[Turn]:
    messages = conversation.messages.select_related("author_user", "conversation__agent", "conversation__contact")
    if up_to_message_id is not None:
        messages = messages.filter(pk__lte=up_to_message_id)
    newest_first = list(messages.order_by("-created_at", "-pk")[:TRANSCRIPT_LIMIT])
    return [turn_for(message) for message in reversed(newest_first)]


def as_model_messages(turns: list[Turn]) -> list[dict]:
    """Messages API input: alternating roles, starting with the user; same-role turns are merged."""
    merged: list[dict] = []
    for turn in turns:
        if not merged and turn.role != "user":
            continue
        if merged and merged[-1]["role"] == turn.role:
            merged[-1]["content"] += "\n\n" + turn.text
        else:
            merged.append({"role": turn.role, "content": turn.text})
    return merged


def last_assistant_text(turns: list[Turn]) -> str | None:
    for turn in reversed(turns[:-1]):
        if turn.role == "assistant":
            return turn.text
    return None
