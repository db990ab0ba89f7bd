"""The fusion curves are fitted on several datasets at once and the fusion is measured leave-one-dataset-out."""

from __future__ import annotations

import random

import pytest

from apps.bench.retrieval.fusion_fit import (
    FIXED,
    FitError,
    FusionExample,
    fused_scores,
    leave_one_dataset_out,
    model_fit,
)


def synthetic(name: str, *, dense_right: float, keyword_right: float, questions: int = 200) -> list[FusionExample]:
    """A leg whose first hit is right is confident (high signal), a wrong one is not; how often each
    leg is right differs per dataset, as it does between a Wikipedia set and a product manual."""
    rng = random.Random(name)
    examples = []
    for index in range(questions):
        legs, signals = {}, {}
        for leg, right_share in (("dense", dense_right), ("keyword", keyword_right)):
            right = rng.random() < right_share
            hits = [(1, "answer"), (2, f"other-{leg}")] if right else [(2, f"other-{leg}"), (3, "third"), (1, "answer")]
            legs[leg] = hits
            signals[leg] = rng.gauss(5.0 if right else 2.0, 0.8)
        legs["graph"] = [(4, "graph-only")]
        examples.append(
            FusionExample(
                query_id=f"{name}-{index}",
                relevant={"answer": 1},
                dense_signal=signals["dense"],
                keyword_signal=signals["keyword"],
                legs=legs,
            )
        )
    return examples


DATASETS = {
    "wiki": synthetic("wiki", dense_right=0.9, keyword_right=0.6),
    "manual": synthetic("manual", dense_right=0.4, keyword_right=0.8),
    "papers": synthetic("papers", dense_right=0.7, keyword_right=0.7),
}


def test_the_curves_rise_with_each_legs_signal():
    model = model_fit(DATASETS)
    assert model.dense.slope > 0
    assert model.keyword.slope > 0
    assert model.dense.probability(5.0) > 0.7 > 0.3 > model.dense.probability(2.0)


def test_the_calibrated_fusion_follows_the_surer_leg_where_fixed_weights_follow_the_dense_one():
    model = model_fit(DATASETS)
    manual = DATASETS["manual"]

    calibrated = fused_scores(manual, model=model)["ndcg@10"]
    assert calibrated > fused_scores(manual, model=FIXED)["ndcg@10"]
    assert calibrated >= fused_scores(manual, model="keyword")["ndcg@10"]


def test_each_dataset_is_measured_with_curves_that_never_saw_it():
    report = leave_one_dataset_out(DATASETS)

    assert [row["dataset"] for row in report] == ["wiki", "manual", "papers"]
    for row in report:
        assert set(row) == {"dataset", "questions", "legs", "best_leg", "held_out", "in_sample", "fixed"}
        best = row["best_leg"]["ndcg@10"]
        assert row["held_out"]["ndcg@10 minus best leg"] == round(row["held_out"]["ndcg@10"] - best, 4)
        assert best == max(scores["ndcg@10"] for scores in row["legs"].values())


def test_a_leg_that_is_always_right_in_the_datasets_fitted_on_is_a_clear_error_not_a_singular_matrix():
    perfect = {"wiki": synthetic("wiki", dense_right=1.0, keyword_right=0.6)}
    with pytest.raises(FitError, match="dense leg's first hit is always relevant in wiki"):
        model_fit(perfect)
