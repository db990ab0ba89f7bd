"""The local embedder: all-MiniLM-L6-v2 (int8 ONNX) run by onnxruntime."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor

import numpy as np
import pytest
from django.conf import settings

from apps.core.errors import AdapterConfigurationError
from apps.integrations.embeddings.base import Vector
from apps.integrations.embeddings.onnx_minilm import MODEL_NAME, OnnxMiniLMEmbedder

from .embedding_support import DIMENSIONS


def cosine(a: Vector, b: Vector) -> float:
    return float(np.dot(a, b) / (np.linalg.norm(a) * np.linalg.norm(b)))


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
