"""Claude as an answer provider: the Messages API, streamed, through the official `anthropic` SDK.

The SDK's exceptions are mapped onto the router's ProviderError kinds, so the router decides about
fallbacks without knowing the SDK: timeouts, 429, 529 (overloaded) and 5xx are retriable, other
4xx are not. Errors that arrive inside the stream (an SSE `error` event, status 200) are mapped by
their error type. Messages carry class, status and request id only, never the prompt or key.

The SDK client has `max_retries=0` (anthropic_client.py): the router's fallback is the retry.
Closing the generator exits the SDK's stream context, which closes the HTTP response, so an
abandoned answer stops the upstream generation.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import anthropic
import httpx2
from anthropic.types import Message
from django.conf import settings

from .anthropic_client import anthropic_client
from .base import (
    Completion,
    GenerationEvent,
    GenerationRequest,
    ProviderError,
    ProviderOverloadedError,
    ProviderRateLimitedError,
    ProviderRequestError,
    ProviderServerError,
    ProviderTimeoutError,
    TextDelta,
)

PROVIDER_NAME = "anthropic"


class AnthropicProvider:
    name = PROVIDER_NAME

    def __init__(self, *, api_key: str = "", base_url: str = "", client: anthropic.Anthropic | None = None) -> None:
        self._api_key = api_key
        self._base_url = base_url
        self._client = client

    def stream(self, request: GenerationRequest) -> Iterator[GenerationEvent]:
        try:
            client = self._client or anthropic_client(api_key=self._api_key, base_url=self._base_url)
            with client.messages.stream(**self._arguments(request)) as stream:
                for text in stream.text_stream:
                    yield TextDelta(text=text)
                final = stream.get_final_message()
        except (anthropic.APIError, httpx2.HTTPError) as error:
            raise provider_error(error) from error
        yield completion_from(final)

    @staticmethod
    def _arguments(request: GenerationRequest) -> dict[str, Any]:
        arguments: dict[str, Any] = {
            "model": request.model or settings.ANTHROPIC_MODEL,
            "max_tokens": request.max_tokens,
            "messages": [{"role": "user", "content": request.prompt}],
            "timeout": request.timeout_seconds,
        }
        if request.system:
            arguments["system"] = request.system
        return arguments


def completion_from(message: Message) -> Completion:
    usage = message.usage
    # Prompt-cache reads and writes are input tokens too, and count against the tenant's budget.
    input_tokens = usage.input_tokens + (usage.cache_creation_input_tokens or 0) + (usage.cache_read_input_tokens or 0)
    return Completion(
        model=message.model,
        input_tokens=input_tokens,
        output_tokens=usage.output_tokens,
        stop_reason=message.stop_reason or "end_turn",
    )


# Error types of the Messages API (`error.type`), for errors inside a stream whose HTTP status was 200.
_RETRIABLE_ERROR_TYPES: dict[str, type[ProviderError]] = {
    "rate_limit_error": ProviderRateLimitedError,
    "overloaded_error": ProviderOverloadedError,
    "api_error": ProviderServerError,
    "timeout_error": ProviderTimeoutError,
}


def provider_error(error: Exception) -> ProviderError:
    """The router's error kind for an SDK or transport error."""
    kind: type[ProviderError]
    if isinstance(error, anthropic.APITimeoutError | httpx2.TimeoutException):
        kind = ProviderTimeoutError
    elif isinstance(error, anthropic.APIStatusError):
        return _status_error(error)
    else:  # connection refused or reset, a broken stream, an unparseable reply
        kind = ProviderServerError
    return kind(f"anthropic: {type(error).__name__}", provider=PROVIDER_NAME)


def _status_error(error: anthropic.APIStatusError) -> ProviderError:
    status = error.status_code
    kind: type[ProviderError]
    if status == 429:
        kind = ProviderRateLimitedError
    elif status == 529:
        kind = ProviderOverloadedError
    elif status == 408:
        kind = ProviderTimeoutError
    elif status >= 500:
        kind = ProviderServerError
    elif status < 400:  # an `error` event inside a 200 stream
        kind = _RETRIABLE_ERROR_TYPES.get(str(error.type or ""), ProviderRequestError)
    else:
        kind = ProviderRequestError
    detail = f"status {status}, type {error.type or 'unknown'}, request id {error.request_id or '-'}"
    return kind(f"anthropic: {type(error).__name__} ({detail})", provider=PROVIDER_NAME)
