"""An Anthropic SDK client built from settings: the one place that knows the key, URL and timeout.

Retries are off (`max_retries=0`): callers have a fallback (offline extraction, the extractive
answerer) and a bounded latency budget, so a failed call should fail fast rather than retry with
back-off inside a request or an ingestion batch.
"""

from __future__ import annotations

from functools import lru_cache
from typing import Any, cast

import anthropic
from anthropic.types import ToolChoiceToolParam, ToolParam
from django.conf import settings

from apps.core.errors import AdapterConfigurationError
from apps.core.observability.genai import ModelCallSpan


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


class AnthropicCallFailed(Exception):
    """An Anthropic call failed; `kind` (the SDK's error class) and `status` say how. The message
    and body are kept out: they may quote the prompt."""

    def __init__(self, *, kind: str, status: int | None) -> None:
        super().__init__(f"{kind} (status {status})")
        self.kind, self.status = kind, status


def anthropic_tool_input(
    client: anthropic.Anthropic, *, model: str, max_tokens: int, system: str, user_text: str, tool: dict[str, Any]
) -> Any:
    """Ask the model to answer by calling `tool` (forced); the call's input, or None when the
    answer holds no such call. Raises AnthropicCallFailed."""
    call = ModelCallSpan.start(
        provider="anthropic", model=model, max_tokens=max_tokens, extra={"portal.llm.tool": str(tool["name"])}
    )
    try:
        with call.active():
            message = client.messages.create(
                model=model,
                max_tokens=max_tokens,
                system=system,
                messages=[{"role": "user", "content": user_text}],
                tools=[cast(ToolParam, tool)],
                tool_choice=ToolChoiceToolParam(type="tool", name=tool["name"]),
            )
    except anthropic.AnthropicError as error:
        call.failed(type(error).__name__)
        raise AnthropicCallFailed(kind=type(error).__name__, status=getattr(error, "status_code", None)) from error
    else:
        usage = message.usage
        call.completed(
            model=message.model,
            # Prompt-cache reads and writes are input tokens too (the GenAI conventions count them in).
            input_tokens=usage.input_tokens
            + (usage.cache_creation_input_tokens or 0)
            + (usage.cache_read_input_tokens or 0),
            output_tokens=usage.output_tokens,
            finish_reason=message.stop_reason or "end_turn",
        )
    finally:
        call.end()
    return next(
        (
            block.input
            for block in getattr(message, "content", None) or []
            if getattr(block, "type", None) == "tool_use" and getattr(block, "name", None) == tool["name"]
        ),
        None,
    )
