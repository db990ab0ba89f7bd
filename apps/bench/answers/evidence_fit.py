"""Fit the evidence-sufficiency model on several datasets at once, and measure it leave-one-dataset-out.

A weight or threshold fitted on one corpus does not carry over to another (fitted on ClapNQ's
Wikipedia passages, the first model refused half of a policy handbook's answerable questions).
So every dataset weighs the same in the fit, and within a dataset answerable and unanswerable
questions weigh the same; the threshold is the highest at which the training datasets refuse, on
average, at most `ANSWERABLE_REFUSAL_TARGET` of their answerable questions (refusing what the
documents answer is the failure users meet first). The report fits on all datasets but one and
measures on the one left out, for each, next to the in-sample figures.

The logistic regression is apps/bench/logistic.py.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass

import numpy as np

from apps.accounts.models import User
from apps.answers.evidence import sentences_rank
from apps.answers.evidence.sentences import focus_rank, unmatched_names
from apps.answers.evidence.sufficiency import SIGNALS, EvidenceModel, RetrievalSignals, evidence_signals
from apps.answers.evidence.text import question_focus
from apps.answers.orchestrator.state import CHIT_CHAT, OUT_OF_SCOPE, AnswerState
from apps.answers.orchestrator.trace import StepRecord
from apps.answers.steps.planner import planner_run
from apps.answers.steps.retriever import retriever_run
from apps.bench.logistic import logistic_regression
from apps.bench.retrieval.beir import BeirDataset
from apps.documents.acl import principals_for_user

ANSWERABLE_REFUSAL_TARGET = 0.07
# Below the borderline threshold even a model that judges evidence itself is not asked: there the
# training datasets refuse at most this share of their answerable questions.
BORDERLINE_ANSWERABLE_REFUSAL_TARGET = 0.02
# A question without evidence sentences is refused whatever the model says; it still counts.
NO_EVIDENCE = None
THRESHOLDS = np.round(np.linspace(0.01, 0.99, 99), 2)
# The dense gap when the dense leg did not run (rare while collecting): no stand-out passage.
MISSING_GAP = 0.0


@dataclass(frozen=True)
class Example:
    question_id: str
    answerable: bool
    signals: dict[str, float] | None  # None: no evidence sentence at all (always refused)


def evidence_examples(
    *, dataset: BeirDataset, user: User, tenant_schema: str, on_query: Callable[[], None] | None = None
) -> list[Example]:
    """The model's inputs for every question, from the real planner and retriever (no generation)."""
    principals = tuple(principals_for_user(user))
    examples = []
    for query in dataset.queries:
        state = AnswerState(
            user=user,
            question=query.text,
            tenant_schema=tenant_schema,
            principals=principals,
            channel="eval",
            use_cache=False,
        )
        examples.append(Example(query.id, query.answerable, _signals_for(state)))
        if on_query:
            on_query()
    return examples


def _signals_for(state: AnswerState) -> dict[str, float] | None:
    planner_run(state, StepRecord(name="planner"))
    if state.plan is None or state.plan.kind in (CHIT_CHAT, OUT_OF_SCOPE):
        return NO_EVIDENCE
    retriever_run(state, StepRecord(name="retriever"))
    ranked = sentences_rank(question=state.question, passages=state.passages)
    if not ranked:
        return NO_EVIDENCE
    focus = focus_rank(question=state.question, passages=state.passages)
    retrieval = state.retrieval_signals
    if retrieval.passage_gap is None:
        retrieval = RetrievalSignals(passage_gap=MISSING_GAP)
    asked = question_focus(state.question) or state.question
    unmatched = unmatched_names(asked=asked, passages=state.passages)
    return evidence_signals(sentences=ranked, retrieval=retrieval, focus=focus, unmatched_names=unmatched)


def model_fit(datasets: Mapping[str, Sequence[Example]]) -> EvidenceModel:
    usable = {name: [e for e in examples if e.signals is not None] for name, examples in datasets.items()}
    features = np.vstack([_matrix(examples) for examples in usable.values()])
    labels = np.concatenate([[float(e.answerable) for e in examples] for examples in usable.values()])
    weights = np.concatenate([_balanced_weights(examples) for examples in usable.values()])
    means, scales = features.mean(axis=0), features.std(axis=0) + 1e-9
    coefficients = logistic_regression((features - means) / scales, labels, weights)
    unthresholded = EvidenceModel(
        weights=dict(zip(SIGNALS, coefficients[:-1].tolist(), strict=True)),
        means=dict(zip(SIGNALS, means.tolist(), strict=True)),
        scales=dict(zip(SIGNALS, scales.tolist(), strict=True)),
        intercept=float(coefficients[-1]),
        threshold=0.5,
        borderline_threshold=0.5,
    )
    return EvidenceModel(
        **{
            **unthresholded.__dict__,
            "threshold": _threshold(unthresholded, datasets, target=ANSWERABLE_REFUSAL_TARGET),
            "borderline_threshold": _threshold(unthresholded, datasets, target=BORDERLINE_ANSWERABLE_REFUSAL_TARGET),
        }
    )


def refusal_rates(model: EvidenceModel, examples: Sequence[Example]) -> dict[str, float | None]:
    refused = [(e.answerable, _refused(model, e)) for e in examples]
    answerable = [r for a, r in refused if a]
    unanswerable = [r for a, r in refused if not a]
    return {
        "refusal_rate_answerable": round(float(np.mean(answerable)), 4) if answerable else None,
        "refusal_rate_unanswerable": round(float(np.mean(unanswerable)), 4) if unanswerable else None,
    }


def leave_one_dataset_out(
    datasets: Mapping[str, Sequence[Example]], *, extra_held_out: Mapping[str, Sequence[Example]] | None = None
) -> list[dict]:
    """Per dataset: fitted without it, measured on it; and in sample (fitted on every dataset).
    `extra_held_out` sets are never fitted on; they are measured with the model fitted on all."""
    full = model_fit(datasets)
    rows = []
    for name, examples in datasets.items():
        without = model_fit({other: ex for other, ex in datasets.items() if other != name})
        rows.append(
            {
                "dataset": name,
                "questions": len(examples),
                "held_out": refusal_rates(without, examples),
                "held_out_threshold": without.threshold,
                "in_sample": refusal_rates(full, examples),
            }
        )
    for name, examples in (extra_held_out or {}).items():
        rows.append({"dataset": name, "questions": len(examples), "held_out": refusal_rates(full, examples)})
    return rows


def model_file(model: EvidenceModel, *, fitted_on: Mapping[str, Sequence[Example]], report: list[dict]) -> dict:
    body = {"model": model.as_dict(), "fitted_on": {name: len(ex) for name, ex in fitted_on.items()}, "lodo": report}
    version = hashlib.sha256(json.dumps(body["model"], sort_keys=True).encode()).hexdigest()[:12]
    return {"version": version, "signals": list(SIGNALS), **body}


def _refused(model: EvidenceModel, example: Example) -> bool:
    return example.signals is None or model.confidence(example.signals) < model.threshold


def _threshold(model: EvidenceModel, datasets: Mapping[str, Sequence[Example]], *, target: float) -> float:
    """The highest threshold at which the datasets' mean answerable refusal stays within the target."""
    best = float(THRESHOLDS[0])
    for threshold in THRESHOLDS:
        candidate = EvidenceModel(**{**model.__dict__, "threshold": float(threshold)})
        rates = [refusal_rates(candidate, examples)["refusal_rate_answerable"] for examples in datasets.values()]
        if np.mean([rate for rate in rates if rate is not None]) <= target:
            best = float(threshold)
    return best


def _matrix(examples: Sequence[Example]) -> np.ndarray:
    return np.array([[e.signals[name] for name in SIGNALS] for e in examples if e.signals is not None])


def _balanced_weights(examples: Sequence[Example]) -> np.ndarray:
    """Each class of a dataset weighs half of the dataset, whatever its size."""
    labels = np.array([e.answerable for e in examples])
    positives, negatives = max(labels.sum(), 1), max((~labels).sum(), 1)
    return np.where(labels, 0.5 / positives, 0.5 / negatives)
