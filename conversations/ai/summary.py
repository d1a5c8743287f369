"""The summary a teammate reads before accepting: written by the model, or extracted offline."""

import logging

import anthropic
from django.conf import settings

from conversations.ai.client import anthropic_client, text_of
from conversations.ai.transcript import Turn, as_model_messages

logger = logging.getLogger(__name__)

SUMMARY_PROMPT = (
    "You write handoff notes for human support teammates. In at most three short sentences, say what "
    "the customer needs, the key details they gave (order numbers, dates, names), what the assistant "
    "already tried, and why they asked for a person. No greeting, no preamble."
)
MAX_SUMMARY_CHARS = 1200


def summarize(*, turns: list[Turn], reason: str = "") -> str:
    client = anthropic_client(timeout=settings.ANTHROPIC_GUARD_TIMEOUT_SECONDS * 2, max_retries=1)
    if client is not None:
        transcript = "\n".join(f"{turn.role.upper()}: {turn.text}" for turn in turns)
        try:
            response = client.messages.create(
                model=settings.ANTHROPIC_FAST_MODEL,
                max_tokens=300,
                system=SUMMARY_PROMPT,
                messages=[{"role": "user", "content": f"Conversation:\n{transcript}\n\nReason given: {reason}"}],
            )
            if text := text_of(response):
                return text[:MAX_SUMMARY_CHARS]
        except anthropic.APIError as exc:
            logger.warning("Summary call failed, using the extractive summary: %s", exc)
    return extractive_summary(turns=turns, reason=reason)


def _clip(text: str, limit: int = 240) -> str:
    text = " ".join(text.split())
    return text if len(text) <= limit else text[: limit - 1].rstrip() + "…"


def extractive_summary(*, turns: list[Turn], reason: str = "") -> str:
    """The customer's own words: their first substantive message, their latest, and the count."""
    user_texts = [turn.text for turn in turns if turn.role == "user"]
    if not user_texts:
        return reason or "The customer asked for a person."
    substantive = [text for text in user_texts if len(text.split()) >= 4] or user_texts
    first, last = substantive[0], user_texts[-1]
    parts = [f"Customer wrote: “{_clip(first)}”"]
    if last != first:
        parts.append(f"Latest: “{_clip(last)}”")
    assistant_count = sum(1 for turn in turns if turn.role == "assistant")
    parts.append(
        f"{len(user_texts)} customer message{'s' if len(user_texts) != 1 else ''} and "
        f"{assistant_count} AI repl{'ies' if assistant_count != 1 else 'y'} before the handoff."
    )
    if reason and reason not in (first, last):
        parts.append(f"Reason: {_clip(reason, 160)}")
    return " ".join(parts)[:MAX_SUMMARY_CHARS]
