"""Long replies are split at the platform's limit, never truncated, and a retry resumes
where the last attempt stopped, so the user never gets a part twice."""

import re
from collections.abc import Callable

from channels_gateway.adapters.base import DeliveryError, OutboundMessage, SendResult

_BREAKS = [re.compile(r"\n\s*\n"), re.compile(r"\n"), re.compile(r"(?<=[.!?…。！？])\s+"), re.compile(r"\s+")]


def utf16_length(text: str) -> int:
    """Telegram and Discord-style limits count UTF-16 code units, not code points. A lone
    surrogate (a platform's JSON may escape one) is one unit too, not an encoding error."""
    return len(text.encode("utf-16-le", "surrogatepass")) // 2


def utf8_length(text: str) -> int:
    """Instagram and Google Chat limits count UTF-8 bytes."""
    return len(text.encode("utf-8"))


def split_message(text: str, limit: int, *, length: Callable[[str], int] = len) -> list[str]:
    """Split at the last paragraph, line, sentence or word break that fits; a single word
    longer than the limit is cut where it must be."""
    parts: list[str] = []
    rest = text.strip()
    while length(rest) > limit:
        window = _longest_prefix(rest, limit, length)
        cut = 0
        for pattern in _BREAKS:
            matches = [m for m in pattern.finditer(window) if m.start() > 0]
            if matches:
                cut = matches[-1].start()
                next_start = matches[-1].end()
                break
        if not cut:
            cut = next_start = len(window)
        parts.append(rest[:cut].rstrip())
        rest = rest[next_start:].lstrip()
    if rest:
        parts.append(rest)
    return parts


def _longest_prefix(text: str, limit: int, length: Callable[[str], int]) -> str:
    if length is len:
        return text[:limit]
    low, high = 0, min(len(text), limit)
    while low < high:  # the longest prefix whose measured length fits
        middle = (low + high + 1) // 2
        if length(text[:middle]) <= limit:
            low = middle
        else:
            high = middle - 1
    return text[:low]


def send_in_parts(
    message: OutboundMessage,
    parts: list[str],
    send_part: Callable[[str, int], str],
) -> SendResult:
    """`send_part(text, index)` sends one part and returns the platform's id for it."""
    ids: list[str] = []
    for index, part in enumerate(parts):
        if index < message.parts_sent:
            continue
        try:
            ids.append(send_part(part, index))
        except DeliveryError as error:
            error.parts_sent = index
            error.platform_message_ids = ids
            raise
    return SendResult(platform_message_ids=ids)
