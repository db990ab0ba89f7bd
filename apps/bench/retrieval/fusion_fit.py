"""Fit the fusion's leg curves on several datasets at once, and measure the fusion leave-one-dataset-out.

For every question of each dataset: each leg's own candidates (the real legs, in the dataset's
tenant), its confidence signal (apps/retrieval/calibration.py) and whether its first hit is
relevant. The dense and keyword curves are logistic fits of "first hit relevant" on the signal,
every dataset weighing the same. The report fuses the stored candidate lists with the curves
fitted without the dataset and compares the fusion with the dataset's best single leg, next to
the same with the curves fitted on every dataset and with the fixed weights.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass

import numpy as np
from django.conf import settings

from apps.bench.logistic import logistic_regression
from apps.documents.index_state import index_snapshot
from apps.retrieval.calibration import (
    FusionModel,
    LegCurve,
    corpus_sample,
    dense_signal,
    keyword_signal,
    leg_weights,
)
from apps.retrieval.fusion import reciprocal_rank_fusion
from apps.retrieval.legs.base import Candidate
from apps.retrieval.search import ALL_LEGS, SearchScope, legs_run

from .beir import BeirDataset
from .metrics import ndcg_at_k, recall_at_k, unique_in_order
from .runner import external_ids_by_chunk

# Not fitted by the curves: chosen over a small grid (graph share 0.35 / 0.5 / 0.75 / 1, or a
# constant 0.25 / 0.35; k 2 / 5) measured leave-one-dataset-out with them (docs/retrieval.md).
GRAPH_SHARE = 0.35
RRF_K = 5.0
FIXED = "fixed"


class FitError(ValueError):
    """The datasets cannot support a curve (a leg's first hit always, or never, relevant in them)."""


@dataclass(frozen=True)
class FusionExample:
    query_id: str
    relevant: dict[str, int]  # document external id -> grade
    dense_signal: float | None  # None: the leg found nothing
    keyword_signal: float | None
    legs: dict[str, list[tuple[int, str]]]  # leg -> (chunk id, document external id) in the leg's order

    def first_hit_relevant(self, leg: str) -> bool:
        hits = self.legs.get(leg) or []
        return bool(hits) and self.relevant.get(hits[0][1], 0) > 0


def fusion_examples(
    *, dataset: BeirDataset, principals: tuple[str, ...], tenant: str, on_query: Callable[[], None] | None = None
) -> list[FusionExample]:
    document_of = external_ids_by_chunk()
    corpus = index_snapshot()
    sample = corpus_sample(tenant=tenant, corpus=corpus)
    scope = SearchScope(
        tenant=tenant,
        principals=principals,
        k=settings.RETRIEVAL_CANDIDATES_PER_LEG,
        legs=ALL_LEGS,
        filters={},
        corpus=corpus,
    )
    examples = []
    for query in dataset.queries:
        if not dataset.qrels.get(query.id):
            continue
        run = legs_run(scope, query.text)
        candidates = {leg: outcome.candidates for leg, outcome in run.outcomes.items()}
        dense, keyword = candidates.get("dense"), candidates.get("keyword")
        hits = {leg: [(c.chunk_id, document_of.get(c.chunk_id, "")) for c in cs] for leg, cs in candidates.items()}
        examples.append(
            FusionExample(
                query_id=query.id,
                relevant=dict(dataset.qrels[query.id]),
                dense_signal=dense_signal(dense[0].score, run.question_vector, sample)
                if dense and run.question_vector is not None
                else None,
                keyword_signal=keyword_signal([c.score for c in keyword]) if keyword else None,
                legs=hits,
            )
        )
        if on_query:
            on_query()
    return examples


def model_fit(datasets: Mapping[str, Sequence[FusionExample]]) -> FusionModel:
    return FusionModel(
        dense=_curve(datasets, leg="dense", signal=lambda e: e.dense_signal),
        keyword=_curve(datasets, leg="keyword", signal=lambda e: e.keyword_signal),
        graph_share=GRAPH_SHARE,
        rrf_k=RRF_K,
    )


def _curve(
    datasets: Mapping[str, Sequence[FusionExample]], *, leg: str, signal: Callable[[FusionExample], float | None]
) -> LegCurve:
    features, labels, weights = [], [], []
    for examples in datasets.values():
        usable = [e for e in examples if signal(e) is not None]
        features += [[signal(e)] for e in usable]
        labels += [float(e.first_hit_relevant(leg)) for e in usable]
        weights += [1.0 / len(usable)] * len(usable)
    if len(set(labels)) < 2:
        outcome = "always" if labels and labels[0] else "never"
        raise FitError(
            f"the {leg} leg's first hit is {outcome} relevant in {', '.join(datasets)}: its curve needs both "
            "kinds of question; fit on more datasets"
        )
    slope, intercept = logistic_regression(np.array(features, dtype=float), np.array(labels), np.array(weights))
    return LegCurve(slope=round(float(slope), 6), intercept=round(float(intercept), 6))


def fused_scores(examples: Sequence[FusionExample], *, model: FusionModel | str) -> dict[str, float]:
    """recall@5 and nDCG@10 of the fusion (`FIXED`: the fixed weights) or of one leg (its name)."""
    recalls, ndcgs = [], []
    for example in examples:
        documents = unique_in_order(_ranked_documents(example, model))
        recalls.append(recall_at_k(documents, example.relevant, 5))
        ndcgs.append(ndcg_at_k(documents, example.relevant, 10))
    return {"recall@5": round(float(np.mean(recalls)), 4), "ndcg@10": round(float(np.mean(ndcgs)), 4)}


def _ranked_documents(example: FusionExample, model: FusionModel | str) -> list[str]:
    if isinstance(model, str) and model in example.legs:
        return [document for _, document in example.legs[model]]
    if isinstance(model, FusionModel):
        weights = leg_weights(model, dense=example.dense_signal, keyword=example.keyword_signal)
        rrf_k = model.rrf_k
    else:
        weights, rrf_k = dict(settings.RETRIEVAL_LEG_WEIGHTS), settings.RETRIEVAL_RRF_K
    document_of = {chunk: document for hits in example.legs.values() for chunk, document in hits}
    ranked = {leg: [Candidate(chunk_id=chunk, score=0.0) for chunk, _ in hits] for leg, hits in example.legs.items()}
    return [document_of[c.chunk_id] for c in reciprocal_rank_fusion(ranked, weights=weights, k=rrf_k)]


def leave_one_dataset_out(datasets: Mapping[str, Sequence[FusionExample]]) -> list[dict]:
    """Per dataset: the fusion fitted without it, fitted on all, and with fixed weights, each minus the
    dataset's best single leg."""
    full = model_fit(datasets)
    rows = []
    for name, examples in datasets.items():
        without = model_fit({other: ex for other, ex in datasets.items() if other != name})
        legs = {leg: fused_scores(examples, model=leg) for leg in ALL_LEGS}
        best = {metric: max(scores[metric] for scores in legs.values()) for metric in ("recall@5", "ndcg@10")}
        rows.append(
            {
                "dataset": name,
                "questions": len(examples),
                "legs": legs,
                "best_leg": best,
                **{
                    label: _with_margin(fused_scores(examples, model=model), best)
                    for label, model in (("held_out", without), ("in_sample", full), ("fixed", FIXED))
                },
            }
        )
    return rows


def _with_margin(scores: dict[str, float], best: dict[str, float]) -> dict[str, float]:
    return {**scores, **{f"{metric} minus best leg": round(scores[metric] - best[metric], 4) for metric in best}}


def model_file(model: FusionModel, *, fitted_on: Mapping[str, Sequence[FusionExample]], report: list[dict]) -> dict:
    body = {"model": model.as_dict(), "fitted_on": {name: len(ex) for name, ex in fitted_on.items()}, "lodo": report}
    version = hashlib.sha256(json.dumps(body["model"], sort_keys=True).encode()).hexdigest()[:12]
    return {"version": version, **body}
