"""What the router reports: the generation record and its two errors."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

from apps.integrations.llm.base import (
    ProviderError,
    ProviderOverloadedError,
    ProviderRateLimitedError,
    ProviderServerError,
    ProviderTimeoutError,
)


@dataclass
class GenerationRecord:
    """What the router did for one answer; filled in while streaming, complete when the stream ends."""

    provider: str = ""
    model: str = ""
    input_tokens: int = 0
    output_tokens: int = 0
    # [{"provider": name, "reason": "timeout|rate_limited|overloaded|server_error|concurrency|budget|error"}]
    fallbacks: list[dict[str, str]] = field(default_factory=list)


class AllProvidersFailedError(Exception):
    """No provider of the tenant's order could answer; `record.fallbacks` says why each was skipped."""

    def __init__(self, message: str, *, record: GenerationRecord) -> None:
        super().__init__(message)
        self.record = record


class TokenBudgetExceededError(Exception):
    """The tenant's daily token budget cannot cover this request; no provider was called."""

    def __init__(self, message: str, *, record: GenerationRecord) -> None:
        super().__init__(message)
        self.record = record


FALLBACK_REASONS: Sequence[tuple[type[ProviderError], str]] = (
    (ProviderTimeoutError, "timeout"),
    (ProviderRateLimitedError, "rate_limited"),
    (ProviderOverloadedError, "overloaded"),
    (ProviderServerError, "server_error"),
)


def fallback_reason(error: ProviderError) -> str:
    return next((reason for kind, reason in FALLBACK_REASONS if isinstance(error, kind)), "error")
