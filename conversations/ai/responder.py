"""The AI agent's turn: a Messages API call with a `request_human` tool, or the offline responder."""

import logging
import re
from dataclasses import dataclass

import anthropic
from django.conf import settings

from conversations.ai.client import anthropic_client, text_of
from conversations.ai.transcript import Turn, as_model_messages

logger = logging.getLogger(__name__)

REQUEST_HUMAN_TOOL = {
    "name": "request_human",
    "description": (
        "Hand this conversation to a human teammate. Call it only when the user asks to talk to a "
        "person (a human, an agent, an operator, staff) now, not when they merely mention people, "
        "and not to avoid answering a question you can answer."
    ),
    "input_schema": {
        "type": "object",
        "properties": {
            "reason": {"type": "string", "description": "One sentence: why the user wants a person."}
        },
        "required": ["reason"],
    },
}

HANDOFF_INSTRUCTIONS = (
    "\n\nYou are chatting with a customer on a messaging channel. Keep answers short and plain. "
    "If the customer asks to talk to a human, call the request_human tool instead of answering."
)


@dataclass(frozen=True)
class AgentReply:
    text: str
    wants_human: bool = False
    human_reason: str = ""
    backend: str = "model"  # model, offline, offline_fallback
    # Kept so a rejected request_human call can be answered with a tool_result.
    tool_use_id: str | None = None
    assistant_content: list | None = None


class ModelUnavailable(Exception):
    """The Messages API failed after the SDK's retries (rate limit, overload, 5xx, time-out)."""


def _call_model(agent, messages: list[dict], *, tools: bool = True):
    client = anthropic_client()
    kwargs = {
        "model": agent.model or settings.ANTHROPIC_DEFAULT_MODEL,
        "max_tokens": 1024,
        "system": (agent.system_prompt or "") + HANDOFF_INSTRUCTIONS,
        "messages": messages,
    }
    if tools:
        kwargs["tools"] = [REQUEST_HUMAN_TOOL]
    try:
        return client.messages.create(**kwargs)
    except anthropic.APIError as exc:
        logger.warning("Messages API failed for agent %s: %s", agent.pk, exc)
        raise ModelUnavailable(str(exc)) from exc


def _reply_from(response) -> AgentReply:
    for block in response.content:
        if block.type == "tool_use" and block.name == REQUEST_HUMAN_TOOL["name"]:
            reason = str((block.input or {}).get("reason", ""))[:500]
            return AgentReply(
                text=text_of(response),
                wants_human=True,
                human_reason=reason,
                tool_use_id=block.id,
                assistant_content=[b.model_dump(exclude_none=True) for b in response.content],
            )
    return AgentReply(text=text_of(response))


def generate_reply(*, agent, turns: list[Turn]) -> AgentReply:
    """The model's answer to the conversation so far; offline when no key, offline fallback on failure."""
    if anthropic_client() is None:
        return AgentReply(text=offline_reply(agent=agent, turns=turns), backend="offline")
    try:
        return _reply_from(_call_model(agent, as_model_messages(turns)))
    except ModelUnavailable:
        return AgentReply(text=fallback_reply(agent=agent), backend="offline_fallback")


def continue_after_declined_handoff(*, agent, turns: list[Turn], declined: AgentReply, why: str) -> AgentReply:
    """The model asked for a human and the guard (or the plan) said no: let it keep helping."""
    if anthropic_client() is None or not declined.tool_use_id:
        return AgentReply(text=offline_reply(agent=agent, turns=turns), backend="offline")
    messages = as_model_messages(turns) + [
        {"role": "assistant", "content": declined.assistant_content},
        {
            "role": "user",
            "content": [{"type": "tool_result", "tool_use_id": declined.tool_use_id, "content": why}],
        },
    ]
    try:
        reply = _reply_from(_call_model(agent, messages))
    except ModelUnavailable:
        return AgentReply(text=fallback_reply(agent=agent), backend="offline_fallback")
    if reply.wants_human or not reply.text:
        return AgentReply(text=fallback_reply(agent=agent), backend="offline_fallback")
    return reply


GREETING = re.compile(r"^\s*(hi|hello|hey|hola|bonjour|hallo|ciao|ol[aá]|good (morning|afternoon|evening))\b", re.I)
THANKS = re.compile(r"\b(thanks|thank you|thx|cheers|gracias|merci|danke|grazie|obrigad[oa])\b", re.I)


def offline_reply(*, agent, turns: list[Turn]) -> str:
    """A modest responder for running without an API key: honest about what it is, never silent."""
    last_user = next((turn.text for turn in reversed(turns) if turn.role == "user"), "")
    if GREETING.search(last_user) and len(last_user) < 40:
        return f"Hi! I'm {agent.name}. How can I help you today?"
    if THANKS.search(last_user) and len(last_user) < 60:
        return "You're welcome! Anything else I can help with?"
    return (
        f"I'm {agent.name}, running in offline mode, so I can't look that up right now. "
        "If you'd like to talk to a person from our team, just ask for a human."
    )


def fallback_reply(*, agent) -> str:
    return (
        "Sorry, I'm having trouble answering right now. Please try again in a moment, "
        "or ask for a human and a member of our team will help you."
    )
