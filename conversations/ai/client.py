"""The Anthropic client, configured from settings. None when no API key is set (offline mode)."""

from functools import lru_cache

import anthropic
from django.conf import settings


@lru_cache(maxsize=8)
def _client(api_key: str, base_url: str | None, timeout: float, max_retries: int) -> anthropic.Anthropic:
    return anthropic.Anthropic(api_key=api_key, base_url=base_url, timeout=timeout, max_retries=max_retries)


def anthropic_client(*, timeout: float | None = None, max_retries: int | None = None) -> anthropic.Anthropic | None:
    if not settings.ANTHROPIC_API_KEY:
        return None
    return _client(
        settings.ANTHROPIC_API_KEY,
        settings.ANTHROPIC_BASE_URL,
        settings.ANTHROPIC_TIMEOUT_SECONDS if timeout is None else timeout,
        settings.ANTHROPIC_MAX_RETRIES if max_retries is None else max_retries,
    )


def text_of(response) -> str:
    return "".join(block.text for block in response.content if block.type == "text").strip()
