"""An Anthropic SDK client built from settings: the one place that knows the key, URL and timeout.

Retries are off (`max_retries=0`): callers have a fallback (offline extraction, the extractive
answerer) and a bounded latency budget, so a failed call should fail fast rather than retry with
back-off inside a request or an ingestion batch.
"""

from __future__ import annotations

from functools import lru_cache

import anthropic
from django.conf import settings

from apps.core.errors import AdapterConfigurationError


def anthropic_client(*, api_key: str = "", base_url: str = "") -> anthropic.Anthropic:
    """The client for the current settings; one per distinct configuration, so its connection pool is shared.

    `api_key` / `base_url` override the settings (a second account or endpoint named in LLM_PROVIDERS).
    """
    api_key = api_key or settings.ANTHROPIC_API_KEY
    if not api_key:
        raise AdapterConfigurationError("settings.ANTHROPIC_API_KEY is not set")
    return _client(
        api_key=api_key,
        base_url=base_url or settings.ANTHROPIC_BASE_URL,
        timeout=float(settings.ANTHROPIC_TIMEOUT),
    )


@lru_cache(maxsize=8)
def _client(*, api_key: str, base_url: str, timeout: float) -> anthropic.Anthropic:
    return anthropic.Anthropic(
        api_key=api_key,
        base_url=base_url or None,  # empty: the SDK's default endpoint
        timeout=timeout,
        max_retries=0,
    )
