"""Any OpenAI-compatible `/v1/embeddings` endpoint (OpenAI, Azure-style gateways, vLLM, TEI, LiteLLM...).

Retries are for the failures that go away by themselves (429, 5xx, timeouts, dropped connections);
everything else (bad key, bad request, a response we cannot use) is raised at once as non-transient,
because repeating it would only burn quota.
"""

from __future__ import annotations

import email.utils
import logging
import math
import threading
import time
from typing import Any

import httpx
import numpy as np
from django.conf import settings
from tenacity import (
    RetryCallState,
    Retrying,
    retry_if_exception_type,
    stop_after_attempt,
    wait_random_exponential,
)
from tenacity.stop import stop_base

from apps.core.errors import AdapterConfigurationError

from .base import EmbeddingError, Vector, l2_normalised

logger = logging.getLogger(__name__)

RETRYABLE_STATUSES = frozenset({408, 409, 425, 429, 500, 502, 503, 504}) | frozenset(range(520, 530))
# OpenAI's rule of thumb for English; the chunker wants an upper-ish bound, so we also count words.
CHARS_PER_TOKEN = 4
TOKENS_PER_WORD = 4 / 3
ERROR_DETAIL_CHARS = 200


class _RetryableFailure(Exception):
    """One failed attempt that may succeed if repeated; internal to the retry loop."""

    def __init__(self, message: str, *, retry_after: float | None = None) -> None:
        super().__init__(message)
        self.retry_after = retry_after


class _stop_when_told_to_wait_longer_than(stop_base):
    """Give up at once when Retry-After exceeds what we are willing to block a worker for."""

    def __init__(self, limit: float) -> None:
        self.limit = limit

    def __call__(self, retry_state: RetryCallState) -> bool:
        failure = retry_state.outcome.exception() if retry_state.outcome else None
        retry_after = failure.retry_after if isinstance(failure, _RetryableFailure) else None
        return retry_after is not None and retry_after > self.limit


def embeddings_endpoint(base_url: str) -> str:
    """Accept `https://host`, `https://host/v1` or the full `.../v1/embeddings`, as providers document all three."""
    url = base_url.strip().rstrip("/")
    if url.endswith("/embeddings"):
        return url
    if not url.endswith("/v1"):
        url += "/v1"
    return url + "/embeddings"


def retry_after_seconds(header: str | None) -> float | None:
    """Retry-After is either delta-seconds or an HTTP date (RFC 9110 section 10.2.3)."""
    if not header:
        return None
    try:
        return max(0.0, float(header))
    except ValueError:
        pass
    try:
        when = email.utils.parsedate_to_datetime(header)
    except (TypeError, ValueError):
        return None
    return max(0.0, when.timestamp() - time.time())


class OpenAICompatibleEmbedder:
    def __init__(
        self,
        *,
        url: str | None = None,
        api_key: str | None = None,
        model: str | None = None,
        timeout: float | None = None,
        batch_size: int | None = None,
        dimensions: int | None = None,
        max_attempts: int = 5,
        backoff_initial: float = 0.5,
        backoff_max: float = 8.0,
        max_retry_after: float = 30.0,
    ) -> None:
        base_url = settings.REMOTE_EMBEDDINGS_URL if url is None else url
        if not base_url:
            raise AdapterConfigurationError("REMOTE_EMBEDDINGS_URL is not set")
        self._endpoint = embeddings_endpoint(base_url)
        self._api_key = settings.REMOTE_EMBEDDINGS_API_KEY if api_key is None else api_key
        self.model_name: str = settings.REMOTE_EMBEDDINGS_MODEL if model is None else model
        self.dimensions: int = settings.EMBEDDING_DIMENSIONS if dimensions is None else dimensions
        self._timeout = settings.REMOTE_EMBEDDINGS_TIMEOUT if timeout is None else timeout
        self._batch_size = settings.EMBEDDING_BATCH_SIZE if batch_size is None else batch_size
        if not self.model_name:
            raise AdapterConfigurationError("REMOTE_EMBEDDINGS_MODEL is not set")
        if self._batch_size < 1 or max_attempts < 1 or self._timeout <= 0:
            raise AdapterConfigurationError("remote embeddings need batch size, attempts and timeout above zero")
        self._max_attempts = max_attempts
        # Full-jitter exponential backoff, so many workers hitting one rate limit do not retry in step.
        self._backoff = wait_random_exponential(multiplier=backoff_initial, max=backoff_max)
        # A server asking us to wait longer than this is better retried later by the caller (a Celery
        # retry) than by blocking a worker here.
        self._max_retry_after = max_retry_after
        self._client_lock = threading.Lock()
        self._client: httpx.Client | None = None

    def __repr__(self) -> str:
        # Deliberately without the key: reprs end up in logs and tracebacks.
        return f"OpenAICompatibleEmbedder(endpoint={self._endpoint!r}, model={self.model_name!r})"

    def embed_documents(self, texts: list[str]) -> Vector:
        if not texts:
            return np.empty((0, self.dimensions), dtype=np.float32)
        batches = [texts[start : start + self._batch_size] for start in range(0, len(texts), self._batch_size)]
        return np.vstack([self._embed_batch_with_retries(batch) for batch in batches])

    def embed_query(self, text: str) -> Vector:
        return self.embed_documents([text])[0]

    def count_tokens(self, text: str) -> int:
        return max(math.ceil(len(text) / CHARS_PER_TOKEN), math.ceil(len(text.split()) * TOKENS_PER_WORD))

    def _payload(self, batch: list[str]) -> dict:
        payload: dict = {"model": self.model_name, "input": batch}
        # Models such as text-embedding-3-* shorten their vectors on request; servers that do not know
        # the field can be told not to receive it.
        if settings.REMOTE_EMBEDDINGS_SEND_DIMENSIONS:
            payload["dimensions"] = self.dimensions
        return payload

    def close(self) -> None:
        with self._client_lock:
            if self._client is not None:
                self._client.close()
                self._client = None

    def _embed_batch_with_retries(self, batch: list[str]) -> Vector:
        retrying = Retrying(
            retry=retry_if_exception_type(_RetryableFailure),
            stop=stop_after_attempt(self._max_attempts) | _stop_when_told_to_wait_longer_than(self._max_retry_after),
            wait=self._wait,
            before_sleep=self._log_retry,
            reraise=True,
        )
        try:
            return retrying(self._embed_batch, batch)
        except _RetryableFailure as failure:
            raise EmbeddingError(
                f"remote embeddings still failing after {retrying.statistics.get('attempt_number', '?')} "
                f"attempt(s): {failure}",
                transient=True,
            ) from failure

    def _embed_batch(self, batch: list[str]) -> Vector:
        try:
            response = self._http().post(self._endpoint, json=self._payload(batch))
        except (httpx.TimeoutException, httpx.NetworkError, httpx.RemoteProtocolError) as error:
            raise _RetryableFailure(f"{type(error).__name__} calling {self._endpoint}") from error
        except httpx.HTTPError as error:
            raise EmbeddingError(self._scrub(f"cannot call {self._endpoint}: {error}"), transient=False) from error

        if response.status_code in RETRYABLE_STATUSES:
            raise _RetryableFailure(
                self._scrub(f"HTTP {response.status_code} from {self._endpoint}{self._error_detail(response)}"),
                retry_after=retry_after_seconds(response.headers.get("Retry-After")),
            )
        if not response.is_success:
            raise EmbeddingError(
                self._scrub(f"HTTP {response.status_code} from {self._endpoint}{self._error_detail(response)}"),
                transient=False,
            )
        return self._parse(response, expected=len(batch))

    def _parse(self, response: httpx.Response, *, expected: int) -> Vector:
        try:
            items = response.json()["data"]
            by_index = {int(item["index"]): item["embedding"] for item in items}
        except (ValueError, KeyError, TypeError) as error:
            raise EmbeddingError(f"unusable response from {self._endpoint}: {error!r}", transient=False) from error
        # The API documents `index` as the position in `input`; nothing promises `data` keeps that order.
        if len(items) != expected or sorted(by_index) != list(range(expected)):
            raise EmbeddingError(
                f"{self._endpoint} returned {len(items)} embeddings with indexes {sorted(by_index)[:10]}... "
                f"for {expected} inputs",
                transient=False,
            )
        try:
            vectors = np.array([by_index[position] for position in range(expected)], dtype=np.float32)
        except (ValueError, TypeError) as error:
            raise EmbeddingError(f"non-numeric or ragged embeddings from {self._endpoint}", transient=False) from error
        if vectors.ndim != 2 or vectors.shape[1] != self.dimensions:
            got = vectors.shape[1] if vectors.ndim == 2 else "ragged"
            raise EmbeddingError(
                f"{self.model_name} at {self._endpoint} returned {got}-d vectors, "
                f"EMBEDDING_DIMENSIONS is {self.dimensions}",
                transient=False,
            )
        if not np.isfinite(vectors).all():
            raise EmbeddingError(f"non-finite values in embeddings from {self._endpoint}", transient=False)
        return l2_normalised(vectors)

    def _http(self) -> httpx.Client:
        # Created on first use, not in __init__: a Celery prefork parent must not hand pooled sockets to
        # its children.
        with self._client_lock:
            if self._client is None:
                headers = {"Authorization": f"Bearer {self._api_key}"} if self._api_key else {}
                self._client = httpx.Client(timeout=httpx.Timeout(self._timeout), headers=headers)
            return self._client

    def _wait(self, retry_state: RetryCallState) -> float:
        failure = retry_state.outcome.exception() if retry_state.outcome else None
        if isinstance(failure, _RetryableFailure) and failure.retry_after is not None:
            return failure.retry_after
        return float(self._backoff(retry_state))

    def _log_retry(self, retry_state: RetryCallState) -> None:
        failure = retry_state.outcome.exception() if retry_state.outcome else None
        logger.warning(
            "remote embeddings attempt %d/%d failed (%s); retrying in %.1fs",
            retry_state.attempt_number,
            self._max_attempts,
            failure,
            retry_state.next_action.sleep if retry_state.next_action else 0.0,
        )

    def _error_detail(self, response: httpx.Response) -> str:
        try:
            payload: Any = response.json()
            detail = payload.get("error", payload) if isinstance(payload, dict) else payload
            if isinstance(detail, dict):
                detail = detail.get("message", detail)
            text = str(detail)
        except ValueError:
            text = response.text
        text = " ".join(text.split())[:ERROR_DETAIL_CHARS]
        return f": {text}" if text else ""

    def _scrub(self, message: str) -> str:
        # Some gateways echo the key they rejected; error messages travel into logs and job rows.
        return message.replace(self._api_key, "***") if self._api_key else message
