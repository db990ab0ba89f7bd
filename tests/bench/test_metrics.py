"""Metric functions against hand-computed examples."""

from __future__ import annotations

import math

import pytest

from apps.bench.retrieval.metrics import mrr_at_k, ndcg_at_k, percentile, recall_at_k, unique_in_order

RELEVANT = {"d1": 1, "d4": 1}


def test_recall():
    assert recall_at_k(["d1", "d2", "d3"], RELEVANT, 3) == 0.5
    assert recall_at_k(["d2", "d4", "d1"], RELEVANT, 3) == 1.0
    assert recall_at_k(["d2", "d4", "d1"], RELEVANT, 1) == 0.0
    assert recall_at_k(["d1"], {}, 10) == 0.0


def test_mrr():
    assert mrr_at_k(["d2", "d3", "d4"], RELEVANT, 10) == pytest.approx(1 / 3)
    assert mrr_at_k(["d2", "d3", "d4"], RELEVANT, 2) == 0.0
    assert mrr_at_k(["d1"], RELEVANT, 10) == 1.0


def test_ndcg_binary_by_hand():
    # relevant at ranks 2 and 3: DCG = 1/log2(3) + 1/log2(4); ideal: 1/log2(2) + 1/log2(3)
    expected = (1 / math.log2(3) + 1 / math.log2(4)) / (1 + 1 / math.log2(3))
    assert ndcg_at_k(["x", "d1", "d4"], RELEVANT, 10) == pytest.approx(expected)
    assert ndcg_at_k(["d1", "d4"], RELEVANT, 10) == pytest.approx(1.0)
    assert ndcg_at_k(["x", "y"], RELEVANT, 10) == 0.0


def test_ndcg_graded():
    relevant = {"a": 2, "b": 1}
    expected = (1 / 1 + 2 / math.log2(3)) / (2 / 1 + 1 / math.log2(3))
    assert ndcg_at_k(["b", "a"], relevant, 10) == pytest.approx(expected)


def test_ndcg_cuts_at_k():
    assert ndcg_at_k(["x", "d1"], RELEVANT, 1) == 0.0


def test_percentile_interpolates():
    assert percentile([1, 2, 3, 4], 0.5) == 2.5
    assert percentile([10], 0.95) == 10
    assert percentile([], 0.5) == 0.0
    assert percentile(list(range(1, 101)), 0.95) == pytest.approx(95.05)


def test_unique_in_order_keeps_best_rank():
    assert unique_in_order(["a", "b", "a", "c", "b"]) == ["a", "b", "c"]
