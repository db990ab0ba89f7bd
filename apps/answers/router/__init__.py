"""The model router: which answer provider runs, in what order, within which limits.

For each question it reads the tenant's settings and then
- tries the providers of the tenant's order (only names in settings.LLM_PROVIDERS; empty order =
  settings.LLM_DEFAULT_ORDER), falling back to the next one on timeouts, rate limits (429),
  overload (529), server errors (5xx) and a full concurrency slot, but only while no text has been
  yielded: after the first token a failure is raised, so an answer never mixes two providers;
- caps the answer at min(request, tenant max_answer_tokens, settings.ANSWER_MAX_TOKENS) tokens;
- enforces the tenant's daily token budget before the call (budget.py) and counts the real usage
  after it; metered providers are skipped when the budget cannot cover the request;
- holds a per-provider, process-wide semaphore while a provider streams (roadmap 6.1);
- can be started before the evidence is judged (`speculates`, prefetch.py) for providers whose
  first token is slow (`SPECULATIVE` in settings.LLM_PROVIDERS).

Every fallback is logged and counted with provider and reason only, never the prompt.
"""

from __future__ import annotations

import dataclasses
import logging
import traceback
from collections.abc import Generator, Iterator, Sequence

from django.conf import settings

from apps.core import metrics
from apps.integrations.llm.base import GenerationRequest, ProviderError
from apps.tenants.models import TenantSettings
from apps.tenants.selectors import tenant_settings_get

from .budget import TokenBudget, TokenReservation, estimated_input_tokens
from .providers import ProviderAttempt, ProviderConfig, provider_semaphore
from .records import AllProvidersFailedError, GenerationRecord, TokenBudgetExceededError, fallback_reason

__all__ = [
    "AllProvidersFailedError",
    "GenerationRecord",
    "ModelRouter",
    "ProviderConfig",
    "TokenBudgetExceededError",
    "model_router",
]

logger = logging.getLogger(__name__)


class ModelRouter:
    def __init__(
        self,
        *,
        providers: Sequence[ProviderConfig],
        default_order: Sequence[str],
        max_answer_tokens: int,
        concurrency_wait_seconds: float,
        budget: TokenBudget,
    ) -> None:
        self.providers = {config.name: config for config in providers}
        self.default_order = list(default_order)
        self.max_answer_tokens = max_answer_tokens
        self.concurrency_wait_seconds = concurrency_wait_seconds
        self.budget = budget

    def stream(
        self,
        request: GenerationRequest,
        *,
        tenant_schema: str,
        record: GenerationRecord,
        tenant_settings: TenantSettings | None = None,
    ) -> Generator[str, None, None]:
        """Yield the answer's text deltas from the first provider that can produce it.

        Raises (while iterating) TokenBudgetExceededError, AllProvidersFailedError, a non-retriable
        ProviderError, or any ProviderError after the first token. Closing the iterator closes the
        provider's stream (and its upstream connection) and releases the provider's slot.
        `tenant_settings`, when the caller has them, spares a lookup (and any database access,
        which matters when the stream is started in another thread: prefetch.py).
        """
        tenant_settings = tenant_settings or tenant_settings_get(schema_name=tenant_schema)
        candidates = self.candidates(tenant_settings.llm_provider_order)
        if not candidates:
            raise AllProvidersFailedError(
                f"none of the tenant's providers {tenant_settings.llm_provider_order} is configured", record=record
            )
        request = dataclasses.replace(
            request,
            max_tokens=max(1, min(request.max_tokens, tenant_settings.max_answer_tokens, self.max_answer_tokens)),
        )
        reservation = self._reserve(request, candidates, tenant_settings.daily_token_budget, tenant_schema)
        if reservation is None:
            for config in candidates:
                if config.metered:
                    self._fall_back(record, config.name, "budget", tenant_schema)
            candidates = [config for config in candidates if not config.metered]
            if not candidates:
                raise TokenBudgetExceededError(
                    f"the daily token budget of tenant {tenant_schema!r} is used up", record=record
                )
        metered_tokens = 0
        try:
            for index, config in enumerate(candidates):
                is_last = index == len(candidates) - 1
                attempt = ProviderAttempt(
                    config=config, request=config.request_for(request), record=record, tenant_schema=tenant_schema
                )
                try:
                    yield from self._run(attempt, tenant_schema=tenant_schema, wait_long=is_last)
                finally:
                    if config.metered:
                        metered_tokens += attempt.tokens_used()
                if attempt.succeeded:
                    return
            raise AllProvidersFailedError(
                f"no answer provider could answer (tried {[config.name for config in candidates]})", record=record
            )
        finally:
            if reservation is not None:
                self.budget.settle(reservation, used_tokens=metered_tokens)

    def speculates(self, tenant_settings: TenantSettings) -> bool:
        """Whether the tenant's first provider is worth starting before the evidence is judged."""
        candidates = self.candidates(tenant_settings.llm_provider_order)
        return bool(candidates) and candidates[0].speculative

    def judges_evidence(self, tenant_settings: TenantSettings) -> bool:
        """Whether the tenant's first provider reads borderline evidence itself (a chat model that says
        when the passages do not answer), instead of the evidence check refusing it."""
        candidates = self.candidates(tenant_settings.llm_provider_order)
        return bool(candidates) and candidates[0].judges_evidence

    def candidates(self, tenant_order: Sequence[str]) -> list[ProviderConfig]:
        """The tenant's providers in its order; names no longer configured are dropped (fail closed:
        an emptied allowlist never widens to other providers)."""
        order = list(tenant_order) or self.default_order
        return [self.providers[name] for name in dict.fromkeys(order) if name in self.providers]

    def _reserve(
        self, request: GenerationRequest, candidates: Sequence[ProviderConfig], limit: int, tenant_schema: str
    ) -> TokenReservation | None:
        """A reservation of the request's worst case (prompt estimate + max_tokens); None = over budget."""
        if not limit or not any(config.metered for config in candidates):
            return TokenReservation.unlimited()
        estimate = estimated_input_tokens(request) + request.max_tokens
        return self.budget.reserve(tenant_schema=tenant_schema, tokens=estimate, limit=limit)

    def _run(self, attempt: ProviderAttempt, *, tenant_schema: str, wait_long: bool) -> Iterator[str]:
        config = attempt.config
        semaphore = provider_semaphore(config.name, config.max_concurrency)
        # With nothing to fall back to, waiting for a slot beats failing; otherwise the next provider is quicker.
        wait = attempt.request.timeout_seconds if wait_long else self.concurrency_wait_seconds
        if not semaphore.acquire(timeout=wait):
            self._fall_back(attempt.record, config.name, "concurrency", tenant_schema)
            return
        try:
            yield from attempt.run()
        except ProviderError as error:
            error.provider = config.name  # the name settings and records use, whatever the class calls itself
            if attempt.started or not error.retriable:
                raise
            self._fall_back(attempt.record, config.name, fallback_reason(error), tenant_schema)
        except Exception as error:
            if attempt.started:
                raise
            # A provider bug must not cost the user the answer another provider can give. The log
            # gets the error's type and where it was raised, not its message: that may quote the prompt.
            logger.error(
                "answer provider %s failed unexpectedly: %s at %s", config.name, type(error).__name__, _origin(error)
            )
            self._fall_back(attempt.record, config.name, "error", tenant_schema)
        finally:
            semaphore.release()

    @staticmethod
    def _fall_back(record: GenerationRecord, provider: str, reason: str, tenant_schema: str) -> None:
        record.fallbacks.append({"provider": provider, "reason": reason})
        metrics.llm_fallbacks_total.labels(provider, reason).inc()
        logger.warning(
            "answer provider %s skipped: %s",
            provider,
            reason,
            extra={"llm_provider": provider, "fallback_reason": reason, "tenant_schema": tenant_schema},
        )


def _origin(error: BaseException) -> str:
    frames = traceback.extract_tb(error.__traceback__)
    return f"{frames[-1].filename}:{frames[-1].lineno}" if frames else "unknown"


def model_router() -> ModelRouter:
    """A router for the current settings: cheap to build, so override_settings takes effect at once."""
    return ModelRouter(
        providers=[ProviderConfig.from_settings(name, entry) for name, entry in settings.LLM_PROVIDERS.items()],
        default_order=settings.LLM_DEFAULT_ORDER,
        max_answer_tokens=settings.ANSWER_MAX_TOKENS,
        concurrency_wait_seconds=settings.LLM_CONCURRENCY_WAIT_SECONDS,
        budget=TokenBudget(),
    )
