"""The summary a teammate reads before accepting: written by the model, or extracted offline."""

import logging
import re

import anthropic
from django.conf import settings

from conversations.ai.client import anthropic_client, text_of
from conversations.ai.transcript import Turn

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


# Identifiers a teammate looks up first: order or ticket numbers, e-mail addresses.
_DETAIL = re.compile(r"#?\b[A-Z]{0,4}-?\d{4,}\b|\b[\w.+-]+@[\w-]+\.[\w.]+\b", re.IGNORECASE)
_GREETING = re.compile(r"^(hi|hello|hey|good (morning|afternoon|evening)|hola|bonjour|hallo|ciao|ol[aá])\b\W*$",
                       re.IGNORECASE)


def _clip(text: str, limit: int = 240) -> str:
    text = " ".join(text.split())
    return text if len(text) <= limit else text[: limit - 1].rstrip() + "…"


def _plural(count: int, one: str, many: str) -> str:
    return f"{count} {one if count == 1 else many}"


def extractive_summary(*, turns: list[Turn], reason: str = "") -> str:
    """Offline handoff note from the customer's own words: what they came for, the request
    for a person, the identifiers they gave, and how long the AI had them."""
    user_texts = [" ".join(turn.text.split()) for turn in turns if turn.role == "user"]
    if not user_texts:
        return reason or "The customer asked for a person."
    request = user_texts[-1]
    earlier = [text for text in user_texts[:-1] if not _GREETING.match(text)]
    parts = []
    if earlier:
        topic = next((text for text in earlier if len(text.split()) >= 4), earlier[0])
        parts.append(f"Needs help with: “{_clip(topic)}”.")
    parts.append(f"Asked for a person: “{_clip(request)}”.")
    details = list(dict.fromkeys(match.group(0) for text in user_texts for match in _DETAIL.finditer(text)))
    if details:
        parts.append(f"Details given: {', '.join(details[:6])}.")
    if reason and _clip(reason, 160) not in (request, *earlier):
        parts.append(f"Why: {_clip(reason, 160)}.")
    assistant_count = sum(1 for turn in turns if turn.role == "assistant")
    parts.append(
        f"{_plural(len(user_texts), 'customer message', 'customer messages')} and "
        f"{_plural(assistant_count, 'AI reply', 'AI replies')} before the handoff."
    )
    return " ".join(parts)[:MAX_SUMMARY_CHARS]
