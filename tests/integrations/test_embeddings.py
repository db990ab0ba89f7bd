"""Embedders: the local ONNX model, the OpenAI-compatible client against a real local server, the Redis
cache in front of both, and the factory that picks one from settings."""

from __future__ import annotations

import hashlib
import logging
import socket
import time
import uuid
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor

import numpy as np
import pytest
from django.conf import settings
from django.core.cache import cache
from django.test import override_settings
from django_tenants.utils import schema_context
from prometheus_client import REGISTRY

from apps.core.errors import AdapterConfigurationError
from apps.integrations.embeddings.base import EmbeddingError, Vector, l2_normalised
from apps.integrations.embeddings.cache import CachedEmbedder
from apps.integrations.embeddings.factory import close_embedders, embedder
from apps.integrations.embeddings.onnx_minilm import MODEL_NAME, OnnxMiniLMEmbedder
from apps.integrations.embeddings.remote import OpenAICompatibleEmbedder, embeddings_endpoint, retry_after_seconds
from tests.support.fake_embeddings_server import FakeEmbeddingsServer, Reply, fake_vector

DIMENSIONS = 384
API_KEY = "sk-test-4f1d9c0a7be24e6f"


def cosine(a: Vector, b: Vector) -> float:
    return float(np.dot(a, b) / (np.linalg.norm(a) * np.linalg.norm(b)))


# --- ONNX all-MiniLM-L6-v2 ----------------------------------------------------------------------


@pytest.fixture(scope="module")
def onnx() -> OnnxMiniLMEmbedder:
    return OnnxMiniLMEmbedder()


def test_onnx_vectors_are_float32_unit_rows_of_the_configured_width(onnx):
    vectors = onnx.embed_documents(["Quarterly revenue grew by 12%.", "Reset your VPN password in the portal."])

    assert onnx.model_name == MODEL_NAME == "all-MiniLM-L6-v2-int8"
    assert vectors.dtype == np.float32
    assert vectors.shape == (2, DIMENSIONS)
    np.testing.assert_allclose(np.linalg.norm(vectors, axis=1), 1.0, atol=1e-5)


def test_onnx_reproduces_the_published_model_behaviour(onnx):
    food, bread, horse, drums = onnx.embed_documents(
        [
            "A man is eating food.",
            "A man is eating a piece of bread.",
            "A man is riding a horse.",
            "A monkey is playing drums.",
        ]
    )
    # sentence-transformers' fp32 all-MiniLM-L6-v2 gives 0.7553 for this pair; the int8 file 0.7535.
    assert cosine(food, bread) == pytest.approx(0.755, abs=0.01)
    assert cosine(food, bread) > cosine(food, horse) > cosine(food, drums)
    assert cosine(food, drums) < 0.2


def test_onnx_ranks_the_relevant_passage_first(onnx):
    query = onnx.embed_query("How many days do I have to return a purchase?")
    passages = onnx.embed_documents(
        [
            "The cafeteria is open from 8am to 3pm on weekdays.",
            "Items can be returned for a full refund within 30 days of purchase.",
            "Quarterly security training is mandatory for all staff.",
        ]
    )

    assert int(np.argmax(passages @ query)) == 1


def test_onnx_vectors_do_not_depend_on_batch_order_or_neighbours(onnx):
    texts = [
        "Short.",
        "A considerably longer sentence about expense reports, receipts and the approval workflow in finance.",
        "Medium length text on onboarding.",
        "",
        "Travel must be booked through the corporate portal at least two weeks in advance of departure.",
    ]
    together = onnx.embed_documents(texts)
    reversed_rows = onnx.embed_documents(texts[::-1])[::-1]
    one_by_one = np.stack([onnx.embed_query(text) for text in texts])
    small_batches = OnnxMiniLMEmbedder(batch_size=2).embed_documents(texts)

    # Padding is masked out, so only float rounding may differ between batch compositions.
    np.testing.assert_allclose(together, reversed_rows, atol=1e-5)
    np.testing.assert_allclose(together, one_by_one, atol=1e-5)
    np.testing.assert_allclose(together, small_batches, atol=1e-5)


def test_onnx_truncates_text_past_max_tokens_instead_of_failing(onnx):
    opening = " ".join(f"Clause {n} of the supplier agreement covers liability and indemnity." for n in range(40))
    assert onnx.count_tokens(opening) > settings.EMBEDDING_MAX_TOKENS

    first = onnx.embed_query(opening + " Appendix A: " + "pricing tables " * 2000)
    second = onnx.embed_query(opening + " Appendix B: completely different trailing material. " * 300)

    # Everything past the first EMBEDDING_MAX_TOKENS tokens is cut, so only the shared opening counts.
    np.testing.assert_allclose(first, second, atol=1e-6)
    assert np.linalg.norm(first) == pytest.approx(1.0, abs=1e-5)


def test_onnx_embeds_the_empty_string_and_the_empty_list(onnx):
    empty = onnx.embed_query("")
    none = onnx.embed_documents([])

    assert empty.shape == (DIMENSIONS,)
    assert np.isfinite(empty).all()
    assert np.linalg.norm(empty) == pytest.approx(1.0, abs=1e-5)
    assert none.shape == (0, DIMENSIONS)
    assert none.dtype == np.float32


def test_onnx_count_tokens_counts_wordpieces_without_special_tokens_and_never_truncates(onnx):
    assert onnx.count_tokens("") == 0
    assert onnx.count_tokens("Hello World!") == 3  # hello, world, !
    assert onnx.count_tokens("unaffordable") > 1  # split into word pieces
    assert onnx.count_tokens("policy " * 1000) == 1000


def test_onnx_serves_concurrent_callers(onnx):
    texts = [f"Incident {n}: the build server ran out of disk space." for n in range(12)]
    expected = onnx.embed_documents(texts)

    with ThreadPoolExecutor(max_workers=4) as pool:
        results = list(pool.map(lambda _: onnx.embed_documents(texts), range(8)))

    for result in results:
        np.testing.assert_allclose(result, expected, atol=1e-5)


@pytest.mark.parametrize("max_tokens", [0, 2, 513])
def test_onnx_refuses_a_max_tokens_the_model_cannot_take(max_tokens):
    with pytest.raises(AdapterConfigurationError):
        OnnxMiniLMEmbedder(max_tokens=max_tokens)


# --- OpenAI-compatible remote embedder against a real local server ------------------------------


@pytest.fixture
def server() -> Iterator[FakeEmbeddingsServer]:
    with FakeEmbeddingsServer(dimensions=DIMENSIONS) as running:
        yield running


def remote(server: FakeEmbeddingsServer, **overrides) -> OpenAICompatibleEmbedder:
    options = {
        "url": server.url,
        "api_key": API_KEY,
        "model": "fake-embed-small",
        "timeout": 2.0,
        "batch_size": 32,
        "dimensions": DIMENSIONS,
        "backoff_initial": 0.0,  # retries without sleeping; Retry-After tests set their own waits
        **overrides,
    }
    return OpenAICompatibleEmbedder(**options)


def expected_vectors(texts: list[str], *, model: str = "fake-embed-small") -> Vector:
    raw = np.array([fake_vector(model=model, text=text, dimensions=DIMENSIONS) for text in texts], dtype=np.float32)
    return l2_normalised(raw)


def test_remote_happy_path_sends_the_openai_request_and_normalises(server):
    texts = ["alpha", "beta", "gamma"]

    vectors = remote(server).embed_documents(texts)

    np.testing.assert_allclose(vectors, expected_vectors(texts), atol=1e-6)
    np.testing.assert_allclose(np.linalg.norm(vectors, axis=1), 1.0, atol=1e-6)
    (request,) = server.requests
    assert request.path == "/v1/embeddings"
    assert request.body == {"model": "fake-embed-small", "input": texts, "dimensions": 384}
    assert request.headers["Authorization"] == f"Bearer {API_KEY}"


@pytest.mark.parametrize("suffix", ["", "/", "/v1", "/v1/", "/v1/embeddings"])
def test_remote_accepts_base_urls_with_or_without_v1(server, suffix):
    vector = remote(server, url=server.url + suffix).embed_query("hello")

    assert vector.shape == (DIMENSIONS,)
    assert server.requests[-1].path == "/v1/embeddings"


def test_embeddings_endpoint_normalisation():
    assert embeddings_endpoint("https://api.example.com") == "https://api.example.com/v1/embeddings"
    assert embeddings_endpoint("https://api.example.com/v1/") == "https://api.example.com/v1/embeddings"
    assert embeddings_endpoint("http://gw:8080/openai/v1") == "http://gw:8080/openai/v1/embeddings"


def test_remote_sends_batches_of_the_configured_size_and_keeps_order(server):
    texts = [f"text {n}" for n in range(7)]

    vectors = remote(server, batch_size=3).embed_documents(texts)

    assert [request.body["input"] for request in server.requests] == [texts[0:3], texts[3:6], texts[6:7]]
    np.testing.assert_allclose(vectors, expected_vectors(texts), atol=1e-6)


def test_remote_orders_results_by_index_not_by_position():
    texts = ["first", "second", "third", "fourth"]
    with FakeEmbeddingsServer(dimensions=DIMENSIONS, reverse_order=True) as reversing:
        vectors = remote(reversing).embed_documents(texts)

    np.testing.assert_allclose(vectors, expected_vectors(texts), atol=1e-6)


@pytest.mark.parametrize(
    "failure",
    [Reply(status=429, headers={"Retry-After": "0"}), Reply(status=500), Reply(status=503)],
    ids=["429", "500", "503"],
)
def test_remote_retries_a_transient_failure_then_succeeds(server, failure):
    server.then(failure, failure)

    vectors = remote(server).embed_documents(["retry me"])

    assert len(server.requests) == 3
    np.testing.assert_allclose(vectors, expected_vectors(["retry me"]), atol=1e-6)


def test_remote_honours_retry_after(server):
    server.then(Reply(status=429, headers={"Retry-After": "1"}))

    started = time.monotonic()
    remote(server).embed_query("slow down")

    assert time.monotonic() - started >= 1.0
    assert len(server.requests) == 2


def test_remote_gives_up_at_once_when_told_to_wait_too_long(server):
    server.then(Reply(status=429, headers={"Retry-After": "120"}))

    with pytest.raises(EmbeddingError) as raised:
        remote(server, max_retry_after=5.0).embed_query("later")

    assert raised.value.transient is True
    assert len(server.requests) == 1


def test_remote_gives_up_with_a_transient_error_after_the_attempt_bound(server):
    server.then(*[Reply(status=502)] * 10)

    with pytest.raises(EmbeddingError) as raised:
        remote(server, max_attempts=3).embed_documents(["never"])

    assert raised.value.transient is True
    assert "502" in str(raised.value)
    assert len(server.requests) == 3


@pytest.mark.parametrize("status", [400, 401, 403, 404, 422])
def test_remote_client_errors_are_not_retried_and_not_transient(server, status):
    server.then(Reply(status=status))

    with pytest.raises(EmbeddingError) as raised:
        remote(server).embed_query("bad")

    assert raised.value.transient is False
    assert str(status) in str(raised.value)
    assert len(server.requests) == 1


def test_remote_retries_a_timeout_then_succeeds(server):
    server.then(Reply(delay_seconds=1.5))

    vector = remote(server, timeout=0.3).embed_query("eventually")

    assert len(server.requests) == 2
    np.testing.assert_allclose(vector, expected_vectors(["eventually"])[0], atol=1e-6)


def test_remote_timeouts_until_the_bound_raise_a_transient_error(server):
    server.then(*[Reply(delay_seconds=1.5)] * 3)

    started = time.monotonic()
    with pytest.raises(EmbeddingError) as raised:
        remote(server, timeout=0.3, max_attempts=2).embed_query("never in time")

    assert raised.value.transient is True
    assert "Timeout" in str(raised.value)
    assert time.monotonic() - started < 1.5  # bounded by our timeout, not by the server's sleep


def test_remote_connection_refused_is_transient():
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        closed_port = probe.getsockname()[1]
    embedder_ = OpenAICompatibleEmbedder(
        url=f"http://127.0.0.1:{closed_port}", api_key=API_KEY, model="m", max_attempts=2, backoff_initial=0.0
    )

    with pytest.raises(EmbeddingError) as raised:
        embedder_.embed_query("anyone there?")

    assert raised.value.transient is True


def test_remote_rejects_vectors_of_the_wrong_width():
    with FakeEmbeddingsServer(dimensions=1536) as wide, pytest.raises(EmbeddingError) as raised:
        remote(wide).embed_query("too wide")

    assert raised.value.transient is False
    assert "1536" in str(raised.value)


def test_remote_rejects_a_response_missing_an_index(server):
    server.then(Reply(body={"data": [{"index": 0, "embedding": [0.1] * DIMENSIONS}]}))

    with pytest.raises(EmbeddingError) as raised:
        remote(server).embed_documents(["one", "two"])

    assert raised.value.transient is False


def test_remote_never_logs_or_reports_the_api_key(server, caplog):
    caplog.set_level(logging.DEBUG)
    server.then(
        Reply(status=429, headers={"Retry-After": "0"}),
        Reply(status=401, body={"error": {"message": f"Incorrect API key provided: {API_KEY}"}}),
    )
    client = remote(server)

    with pytest.raises(EmbeddingError) as raised:
        client.embed_query("secret-free logs")

    assert server.requests[0].headers["Authorization"] == f"Bearer {API_KEY}"  # it was sent...
    assert caplog.records  # ...the retry and the HTTP client did log...
    assert API_KEY not in caplog.text  # ...but never the key
    assert API_KEY not in str(raised.value)
    assert API_KEY not in repr(client)


def test_remote_count_tokens_is_a_cheap_upper_estimate(server):
    client = remote(server)

    assert client.count_tokens("") == 0
    assert client.count_tokens("Hello world") >= 2
    assert client.count_tokens("word " * 300) >= 300
    assert server.requests == []  # no network for counting


def test_retry_after_accepts_seconds_and_http_dates():
    assert retry_after_seconds("3") == 3.0
    assert retry_after_seconds(None) is None
    assert retry_after_seconds("soon") is None
    assert retry_after_seconds("Wed, 21 Oct 2015 07:28:00 GMT") == 0.0  # in the past: retry now


def test_remote_needs_a_url():
    with override_settings(REMOTE_EMBEDDINGS_URL=""), pytest.raises(AdapterConfigurationError):
        OpenAICompatibleEmbedder()


# --- Cache (real Redis) -------------------------------------------------------------------------


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


# --- Factory ------------------------------------------------------------------------------------


@pytest.fixture
def fresh_factory() -> Iterator[None]:
    close_embedders()
    yield
    close_embedders()


def test_factory_defaults_to_the_cached_onnx_model(fresh_factory):
    chosen = embedder()

    assert isinstance(chosen, CachedEmbedder)
    assert isinstance(chosen.inner, OnnxMiniLMEmbedder)
    assert chosen.model_name == MODEL_NAME
    assert chosen.dimensions == DIMENSIONS
    assert embedder() is chosen  # one per process for the same settings


@pytest.mark.integration
def test_factory_picks_the_backend_named_in_settings(fresh_factory, server):
    default = embedder()
    remote_settings = {
        "EMBEDDER_BACKEND": "apps.integrations.embeddings.remote.OpenAICompatibleEmbedder",
        "REMOTE_EMBEDDINGS_URL": server.url,
        "REMOTE_EMBEDDINGS_API_KEY": API_KEY,
        "REMOTE_EMBEDDINGS_MODEL": f"fake-{uuid.uuid4().hex[:8]}",
    }

    with override_settings(**remote_settings):
        chosen = embedder()
        vector = chosen.embed_query("through the factory")

    assert isinstance(chosen, CachedEmbedder)
    assert isinstance(chosen.inner, OpenAICompatibleEmbedder)
    assert chosen.model_name == remote_settings["REMOTE_EMBEDDINGS_MODEL"]
    assert vector.shape == (DIMENSIONS,)
    assert len(server.requests) == 1
    assert embedder() is default  # back to the default once the override ends


def test_factory_reports_an_unloadable_backend(fresh_factory):
    with (
        override_settings(EMBEDDER_BACKEND="apps.integrations.embeddings.nowhere.Missing"),
        pytest.raises(AdapterConfigurationError),
    ):
        embedder()
