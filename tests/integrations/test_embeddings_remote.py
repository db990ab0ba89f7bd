"""The OpenAI-compatible remote embedder, against a real local server speaking the protocol."""

from __future__ import annotations

import logging
import socket
import time

import numpy as np
import pytest
from django.test import override_settings

from apps.core.errors import AdapterConfigurationError
from apps.integrations.embeddings.base import EmbeddingError, Vector, l2_normalised
from apps.integrations.embeddings.remote import OpenAICompatibleEmbedder, embeddings_endpoint, retry_after_seconds
from tests.support.fake_embeddings_server import FakeEmbeddingsServer, Reply, fake_vector
from tests.support.spans import attributes_of, captured_spans

from .embedding_support import API_KEY, DIMENSIONS


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


def test_a_remote_embedding_request_is_traced_without_its_key(server):
    with captured_spans() as spans:
        remote(server).embed_query("hello")

    # The instrumentation's default (pre-stable) HTTP attribute names.
    [request] = [span for span in spans.get_finished_spans() if attributes_of(span).get("http.method") == "POST"]
    assert attributes_of(request)["http.status_code"] == 200
    assert attributes_of(request)["http.url"].endswith("/v1/embeddings")
    assert all(API_KEY not in str(value) for value in attributes_of(request).values())
