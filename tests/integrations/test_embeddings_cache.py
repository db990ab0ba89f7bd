"""The Redis cache in front of every embedder (real Redis)."""

from __future__ import annotations

import hashlib
import logging
import socket
import threading
import uuid
from concurrent.futures import ThreadPoolExecutor

import numpy as np
import pytest
from django.conf import settings
from django.core.cache import cache
from django.test import override_settings
from django_tenants.utils import schema_context
from prometheus_client import REGISTRY

from apps.integrations.embeddings.base import Vector, l2_normalised
from apps.integrations.embeddings.cache import CachedEmbedder
from tests.support.fake_embeddings_server import fake_vector

from .embedding_support import DIMENSIONS


class CountingEmbedder:
    """A deterministic stand-in backend that records what reaches it."""

    def __init__(self, *, model_name: str) -> None:
        self.model_name = model_name
        self.dimensions = DIMENSIONS
        self.calls: list[list[str]] = []

    def embed_documents(self, texts: list[str]) -> Vector:
        self.calls.append(list(texts))
        rows = [fake_vector(model=self.model_name, text=text, dimensions=DIMENSIONS) for text in texts]
        return l2_normalised(np.array(rows, dtype=np.float32).reshape(len(texts), DIMENSIONS))

    def embed_query(self, text: str) -> Vector:
        return self.embed_documents([text])[0]

    def count_tokens(self, text: str) -> int:
        return len(text.split())


@pytest.fixture
def counting() -> CountingEmbedder:
    # A fresh model name per test: nothing cached by an earlier test or run can answer.
    return CountingEmbedder(model_name=f"counting-{uuid.uuid4().hex[:12]}")


def sample(name: str) -> float:
    return REGISTRY.get_sample_value(name, {"cache_type": "embedding"}) or 0.0


@pytest.mark.integration
def test_cache_answers_the_second_call_without_the_inner_embedder(counting):
    cached = CachedEmbedder(counting, ttl_seconds=60)
    texts = ["refund policy", "vpn setup", "holiday calendar"]
    hits_before, misses_before = sample("cache_hits_total"), sample("cache_misses_total")

    first = cached.embed_documents(texts)
    second = cached.embed_documents(texts)

    assert counting.calls == [texts]
    np.testing.assert_array_equal(first, second)
    assert second.dtype == np.float32
    assert (cached.hits, cached.misses) == (3, 3)
    assert sample("cache_hits_total") - hits_before == 3
    assert sample("cache_misses_total") - misses_before == 3


@pytest.mark.integration
def test_cache_sends_only_misses_once_each_and_keeps_the_callers_order(counting):
    cached = CachedEmbedder(counting, ttl_seconds=60)
    cached.embed_documents(["known"])

    vectors = cached.embed_documents(["new one", "known", "new two", "new one"])

    assert counting.calls == [["known"], ["new one", "new two"]]
    np.testing.assert_array_equal(vectors, counting.embed_documents(["new one", "known", "new two", "new one"]))


@pytest.mark.integration
def test_cache_keeps_models_apart(counting):
    other = CountingEmbedder(model_name=counting.model_name + "-v2")
    CachedEmbedder(counting, ttl_seconds=60).embed_query("same text")

    CachedEmbedder(other, ttl_seconds=60).embed_query("same text")

    assert other.calls == [["same text"]]


@pytest.mark.integration
def test_cache_entries_carry_the_tenant_schema(counting):
    cached = CachedEmbedder(counting, ttl_seconds=60)
    with schema_context("alpha"):
        cached.embed_query("shared wording")
        alpha_key = cache.make_key(cached.cache_key("shared wording"))
    with schema_context("beta"):
        cached.embed_query("shared wording")
        beta_key = cache.make_key(cached.cache_key("shared wording"))

    assert alpha_key.startswith("alpha:")
    assert beta_key.startswith("beta:")
    assert len(counting.calls) == 2
    assert hashlib.sha256(b"shared wording").hexdigest() in alpha_key


@pytest.mark.integration
def test_cache_treats_a_malformed_entry_as_a_miss(counting):
    cached = CachedEmbedder(counting, ttl_seconds=60)
    cache.set(cached.cache_key("odd"), b"\x00\x01", timeout=60)

    vector = cached.embed_query("odd")

    assert counting.calls == [["odd"]]
    assert vector.shape == (DIMENSIONS,)


@pytest.mark.integration
def test_cache_outage_degrades_to_no_cache_and_warns_once(counting, caplog):
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        closed_port = probe.getsockname()[1]
    unreachable = {
        "default": {
            **settings.CACHES["default"],
            "LOCATION": f"redis://127.0.0.1:{closed_port}/0",
        }
    }
    cached = CachedEmbedder(counting, ttl_seconds=60, outage_pause_seconds=0.0)

    with override_settings(CACHES=unreachable), caplog.at_level(logging.INFO):
        first = cached.embed_query("still works")
        cached.embed_query("still works")
        cached.embed_documents(["and so", "does this"])

    warnings = [record for record in caplog.records if record.levelno == logging.WARNING]
    assert len(warnings) == 1
    assert "embedding cache unavailable" in warnings[0].getMessage()
    assert counting.calls == [["still works"], ["still works"], ["and so", "does this"]]
    np.testing.assert_allclose(np.linalg.norm(first), 1.0, atol=1e-6)

    caplog.clear()
    with caplog.at_level(logging.INFO):
        cached.embed_query("redis is back")
    assert "reachable again" in caplog.text


class SlowEmbedder(CountingEmbedder):
    """Takes a moment per call, so that questions asked together overlap."""

    def embed_documents(self, texts: list[str]) -> Vector:
        threading.Event().wait(0.3)
        return super().embed_documents(texts)


def embed_together(cached: CachedEmbedder, jobs: list[tuple[str, str]]) -> list[Vector]:
    """Each (schema, text) on its own thread, at once."""

    def embed(job: tuple[str, str]) -> Vector:
        with schema_context(job[0]):
            return cached.embed_query(job[1])

    with ThreadPoolExecutor(len(jobs)) as pool:
        return list(pool.map(embed, jobs))


@pytest.mark.integration
def test_the_same_question_asked_at_once_is_embedded_once_and_each_caller_gets_its_own_vector():
    slow = SlowEmbedder(model_name=f"slow-{uuid.uuid4().hex[:12]}")
    vectors = embed_together(CachedEmbedder(slow, ttl_seconds=60), [("public", "refund policy")] * 6)
    assert slow.calls == [["refund policy"]]
    assert all(np.array_equal(vector, vectors[0]) for vector in vectors)
    vectors[0][0] = 42.0  # one caller's copy is its own
    assert vectors[1][0] != 42.0


@pytest.mark.integration
def test_tenants_asking_the_same_question_at_once_do_not_wait_for_each_other():
    slow = SlowEmbedder(model_name=f"slow-{uuid.uuid4().hex[:12]}")
    embed_together(CachedEmbedder(slow, ttl_seconds=60), [("public", "refund policy"), ("other", "refund policy")])
    assert slow.calls == [["refund policy"], ["refund policy"]]
