"""How far to trust each leg for this question: fusion weights from the legs' own confidence.

Fixed weights chosen on one kind of corpus lose on another: dense 1, keyword 0.5 put the fusion
0.06 nDCG@10 below the keyword leg alone on a TV manual, whose questions share its exact terms and
whose sections all look alike to the embedder. Each leg's weight is instead the calibrated
probability that its first hit is relevant, read from one signal of its own:

- dense: how far the first hit's cosine stands above the question's cosine to the tenant's corpus
  at large, in standard deviations. "At large" is a fixed sample of the corpus' chunk vectors (the
  corpus against itself): where every passage resembles every other, a high cosine says little.
- keyword: how far the first hit's BM25 score stands above the leg's next hits, in standard
  deviations.

The two logistic curves are fitted by `manage.py fusion_fit` on several datasets at once and
reported leave-one-dataset-out (docs/retrieval.md). The graph leg counts a fixed share of the
surer of the two: RRF only compares weights with each other, so a constant graph weight would
outvote two unsure text legs and count for little beside a sure one. The corpus
sample only ever yields two numbers per question (mean and spread of its cosines): no passage of
it is returned or shown.
"""

from __future__ import annotations

import json
import math
import threading
import time
from collections import OrderedDict
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from functools import cache
from pathlib import Path

import numpy as np
from django.conf import settings
from django.db import connection

from apps.documents.index_state import IndexSnapshot
from apps.documents.models import Chunk

from .legs.base import Candidate

MODEL_PATH = Path(__file__).with_name("fusion_model.json")
CORPUS_SAMPLE_SIZE = 1000
# The keyword leg's first score is compared with this many of its hits.
KEYWORD_SIGNAL_DEPTH = 20
# Corpora cached per process. A corpus' spread changes slowly, so a sample serves later index
# versions for a while (a tenant ingesting all day would otherwise read one per question); a
# sample of a corpus that has since grown past twice its size is read again at once.
CORPUS_SAMPLES_CACHED = 16
CORPUS_SAMPLE_MAX_AGE_SECONDS = 300.0
# pgvector's binary form: two int16 (dimensions, unused), then big-endian float32 values.
_VECTOR_HEADER_BYTES = 4


@dataclass(frozen=True)
class LegCurve:
    """P(first hit relevant) = 1 / (1 + exp(-(slope * signal + intercept)))."""

    slope: float
    intercept: float

    def probability(self, signal: float) -> float:
        return 1.0 / (1.0 + math.exp(-max(-60.0, min(60.0, self.slope * signal + self.intercept))))


@dataclass(frozen=True)
class FusionModel:
    dense: LegCurve
    keyword: LegCurve
    graph_share: float  # the graph leg's weight as a share of the surer text leg's
    rrf_k: float

    def as_dict(self) -> dict:
        return {
            "dense": vars(self.dense),
            "keyword": vars(self.keyword),
            "graph_share": self.graph_share,
            "rrf_k": self.rrf_k,
        }

    @classmethod
    def from_dict(cls, raw: Mapping) -> FusionModel:
        return cls(
            dense=LegCurve(**raw["dense"]),
            keyword=LegCurve(**raw["keyword"]),
            graph_share=float(raw["graph_share"]),
            rrf_k=float(raw["rrf_k"]),
        )


@cache
def _model_file() -> dict:
    return json.loads(MODEL_PATH.read_text(encoding="utf-8"))


@cache
def fusion_model() -> FusionModel:
    return FusionModel.from_dict(_model_file()["model"])


def fusion_version() -> str:
    """Part of the retrieval cache key: results fused under another model or mode are not replayed."""
    return settings.RETRIEVAL_FUSION if settings.RETRIEVAL_FUSION == "fixed" else str(_model_file()["version"])


def fusion_parameters(
    *,
    candidates: Mapping[str, Sequence[Candidate]],
    question_vector: np.ndarray | None,
    tenant: str,
    corpus: IndexSnapshot,
) -> tuple[dict[str, float], float]:
    """(weight of each leg, RRF k) for this question."""
    if settings.RETRIEVAL_FUSION == "fixed":
        return dict(settings.RETRIEVAL_LEG_WEIGHTS), settings.RETRIEVAL_RRF_K
    model = fusion_model()
    dense, keyword = candidates.get("dense"), candidates.get("keyword")
    dense_confidence = keyword_confidence = None
    if dense and question_vector is not None:
        sample = corpus_sample(tenant=tenant, corpus=corpus)
        dense_confidence = dense_signal(dense[0].score, question_vector, sample)
    if keyword:
        keyword_confidence = keyword_signal([c.score for c in keyword])
    return leg_weights(model, dense=dense_confidence, keyword=keyword_confidence), model.rrf_k


def leg_weights(model: FusionModel, *, dense: float | None, keyword: float | None) -> dict[str, float]:
    """The legs' weights from their signals (None: the leg found nothing, its weight does not matter)."""
    weights = {}
    if dense is not None:
        weights["dense"] = model.dense.probability(dense)
    if keyword is not None:
        weights["keyword"] = model.keyword.probability(keyword)
    weights["graph"] = model.graph_share * max(weights.values(), default=1.0)
    return weights


def dense_signal(top_similarity: float, question_vector: np.ndarray, corpus_vectors: np.ndarray) -> float:
    """The first hit's cosine in standard deviations above the question's cosines to the corpus sample."""
    if len(corpus_vectors) < 2:
        return 0.0
    similarities = corpus_vectors @ question_vector
    return float((top_similarity - similarities.mean()) / (similarities.std() + 1e-9))


def keyword_signal(scores: Sequence[float]) -> float:
    """The first BM25 score in standard deviations above the leg's first KEYWORD_SIGNAL_DEPTH scores."""
    head = np.asarray(scores[:KEYWORD_SIGNAL_DEPTH], dtype=np.float64)
    if len(head) < 3:
        return 0.0
    return float((head[0] - head.mean()) / (head.std() + 1e-9))


@dataclass(frozen=True)
class _Sample:
    vectors: np.ndarray
    version: int
    chunk_count: int
    read_at: float

    def serves(self, corpus: IndexSnapshot) -> bool:
        if corpus.version == self.version:
            return True
        fresh = time.monotonic() - self.read_at < CORPUS_SAMPLE_MAX_AGE_SECONDS
        return fresh and corpus.chunk_count <= 2 * max(self.chunk_count, 1)


_samples: OrderedDict[str, _Sample] = OrderedDict()
_samples_lock = threading.Lock()


def corpus_sample(*, tenant: str, corpus: IndexSnapshot) -> np.ndarray:
    """Up to CORPUS_SAMPLE_SIZE unit vectors of the tenant's chunks (the current schema)."""
    with _samples_lock:
        cached = _samples.get(tenant)
        if cached is not None and cached.serves(corpus):
            _samples.move_to_end(tenant)
            return cached.vectors
    sample = _Sample(_sample_read(corpus.chunk_count), corpus.version, corpus.chunk_count, time.monotonic())
    with _samples_lock:
        _samples[tenant] = sample
        _samples.move_to_end(tenant)
        while len(_samples) > CORPUS_SAMPLES_CACHED:
            _samples.popitem(last=False)
    return sample.vectors


def _sample_read(chunk_count: int) -> np.ndarray:
    # Block sampling reads a few pages, not the table: a million chunks cost what a thousand do.
    # Twice the pages needed, as some hold fewer rows; REPEATABLE keeps the sample stable.
    percent = min(100.0, 200.0 * CORPUS_SAMPLE_SIZE / max(chunk_count, 1))
    table = connection.ops.quote_name(Chunk._meta.db_table)
    sql = f"SELECT vector_send(embedding) FROM {table} TABLESAMPLE SYSTEM (%s) REPEATABLE (7) LIMIT %s"  # noqa: S608 - our table name; values are parameters
    with connection.cursor() as cursor:
        cursor.execute(sql, [percent, CORPUS_SAMPLE_SIZE])
        rows = cursor.fetchall()
    if not rows:
        return np.zeros((0, 0), dtype=np.float32)
    vectors = np.vstack([np.frombuffer(bytes(row[0])[_VECTOR_HEADER_BYTES:], dtype=">f4") for row in rows])
    vectors = vectors.astype(np.float32)
    return vectors / np.maximum(np.linalg.norm(vectors, axis=1, keepdims=True), 1e-9)
