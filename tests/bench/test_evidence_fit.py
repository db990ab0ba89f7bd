"""The evidence model is fitted on several datasets at once and measured leave-one-dataset-out."""

from __future__ import annotations

import random

from apps.answers.evidence.sufficiency import SIGNALS, EvidenceModel, evidence_model
from apps.bench.answers.evidence_fit import (
    ANSWERABLE_REFUSAL_TARGET,
    BORDERLINE_ANSWERABLE_REFUSAL_TARGET,
    Example,
    leave_one_dataset_out,
    model_fit,
    refusal_rates,
)


def synthetic(name: str, *, shift: float, answerable: int = 120, unanswerable: int = 60) -> list[Example]:
    """Answerable questions score higher on every signal; each dataset's scale is shifted by `shift`."""
    rng = random.Random(name)
    examples = []
    for index in range(answerable + unanswerable):
        is_answerable = index < answerable
        centre = (0.65 if is_answerable else 0.45) + shift
        signals = {signal: rng.gauss(centre, 0.08) for signal in SIGNALS}
        examples.append(Example(f"{name}-{index}", is_answerable, signals))
    examples.append(Example(f"{name}-empty", True, None))  # no evidence at all: always refused
    return examples


def _answerable_refused(model: EvidenceModel, examples: list[Example]) -> float:
    rate = refusal_rates(model, examples)["refusal_rate_answerable"]
    assert rate is not None
    return rate


DATASETS = {"a": synthetic("a", shift=0.0), "b": synthetic("b", shift=0.05), "c": synthetic("c", shift=-0.05)}


def test_the_threshold_keeps_answerable_refusals_within_the_target_on_the_datasets_fitted_on():
    model = model_fit(DATASETS)

    rates = [_answerable_refused(model, examples) for examples in DATASETS.values()]
    assert sum(rates) / len(rates) <= ANSWERABLE_REFUSAL_TARGET
    assert model.borderline_threshold <= model.threshold
    borderline = EvidenceModel(**{**model.__dict__, "threshold": model.borderline_threshold})
    low = [_answerable_refused(borderline, examples) for examples in DATASETS.values()]
    assert sum(low) / len(low) <= BORDERLINE_ANSWERABLE_REFUSAL_TARGET
    # Separable data: most unanswerable questions are refused.
    assert all((refusal_rates(model, ex)["refusal_rate_unanswerable"] or 0.0) > 0.6 for ex in DATASETS.values())
    assert all(weight > 0 for weight in model.weights.values())


def test_each_dataset_is_measured_by_a_model_that_never_saw_it():
    report = leave_one_dataset_out(DATASETS, extra_held_out={"d": synthetic("d", shift=0.02)})

    assert [row["dataset"] for row in report] == ["a", "b", "c", "d"]
    for row in report[:3]:
        assert set(row) == {"dataset", "questions", "held_out", "held_out_threshold", "in_sample"}
        assert row["held_out"]["refusal_rate_answerable"] is not None
    assert "in_sample" not in report[3]


def test_a_question_without_evidence_is_always_refused():
    model = model_fit(DATASETS)
    only_empty = [example for example in DATASETS["a"] if example.signals is None]
    assert refusal_rates(model, only_empty)["refusal_rate_answerable"] == 1.0


def test_the_shipped_model_reads_and_scores_in_range():
    model = evidence_model()
    assert set(model.weights) == set(SIGNALS)
    assert 0 < model.borderline_threshold <= model.threshold < 1
    assert 0.0 < model.confidence(dict(model.means)) < 1.0
