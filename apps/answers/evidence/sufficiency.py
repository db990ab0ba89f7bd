"""Is the evidence good enough to answer, or should the answer say it does not know?

One cosine threshold confuses "on topic" with "answers the question", and a threshold that suits
one corpus refuses half the questions of another (MiniLM cosines of a paraphrased policy question
sit lower than those of a Wikipedia question). The decision combines signals that are each cheap
and available for every question:

- `best_sentence_similarity`: cosine of the question (or, for a question that first tells a
  situation, of its final question sentence, whichever is higher) to the best evidence sentence;
- `passage_gap`: how far the dense leg's best passage stands above the other passages (its cosine
  minus their mean). Relative, so it does not depend on the corpus' or the question's cosine scale:
  a passage about what is asked stands out, a question nothing answers finds a flat list;
- `question_coverage`: share of the question's terms (of its question sentence) that the best
  sentence, its title and headings contain;
- `question_name_unmatched`: 1 when the question sentence names something (a capitalised word
  inside it: "the Hamburg office", "the CEO") that no passage mentions, else 0.

They are weighed by a logistic model (`model.json`, written by `manage.py evidence_fit`) fitted on
several datasets at once, each weighing the same, and reported leave-one-dataset-out in
docs/answers.md. The answer is refused below the model's threshold (or
settings.ANSWER_EVIDENCE_MIN_CONFIDENCE when set). Nothing here is tuned per question or per corpus.
"""

from __future__ import annotations

import json
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path

from django.conf import settings

from .sentences import ScoredSentence

MODEL_PATH = Path(__file__).with_name("model.json")
SIGNALS = ("best_sentence_similarity", "passage_gap", "question_coverage", "question_name_unmatched")


@dataclass(frozen=True)
class EvidenceModel:
    """Standardised logistic regression: logit = intercept + sum(weight * (value - mean) / scale)."""

    weights: Mapping[str, float]
    means: Mapping[str, float]
    scales: Mapping[str, float]
    intercept: float
    threshold: float
    # Between this and `threshold` the evidence is borderline: a provider that judges evidence itself
    # (Claude) gets it and may say the passages do not answer; the extractive answerer refuses it.
    borderline_threshold: float

    def confidence(self, signals: Mapping[str, float]) -> float:
        logit = self.intercept + sum(
            self.weights[name] * (signals[name] - self.means[name]) / self.scales[name] for name in self.weights
        )
        return 1.0 / (1.0 + math.exp(-max(-60.0, min(60.0, logit))))

    def as_dict(self) -> dict:
        return {
            "weights": dict(self.weights),
            "means": dict(self.means),
            "scales": dict(self.scales),
            "intercept": self.intercept,
            "threshold": self.threshold,
            "borderline_threshold": self.borderline_threshold,
        }

    @classmethod
    def from_dict(cls, raw: Mapping) -> EvidenceModel:
        return cls(
            weights={name: float(raw["weights"][name]) for name in SIGNALS},
            means={name: float(raw["means"][name]) for name in SIGNALS},
            scales={name: float(raw["scales"][name]) for name in SIGNALS},
            intercept=float(raw["intercept"]),
            threshold=float(raw["threshold"]),
            borderline_threshold=float(raw.get("borderline_threshold", raw["threshold"])),
        )


@cache
def _model_file() -> dict:
    return json.loads(MODEL_PATH.read_text(encoding="utf-8"))


@cache
def evidence_model() -> EvidenceModel:
    return EvidenceModel.from_dict(_model_file()["model"])


def evidence_model_version() -> str:
    """Changes with every fit, so cached answers judged by an older model are not replayed."""
    return str(_model_file()["version"])


@dataclass(frozen=True)
class RetrievalSignals:
    """What the dense leg tells about the passages (None when it did not run)."""

    passage_gap: float | None = None


@dataclass(frozen=True)
class EvidenceAssessment:
    sufficient: bool
    confidence: float
    reason: str  # "" when sufficient; "no_evidence" | "insufficient_evidence"
    signals: dict[str, float] = field(default_factory=dict)
    borderline: bool = False  # insufficient, but within the band a judging model may still answer

    def summary(self) -> dict:
        band = {"borderline": True} if self.borderline else {}
        return {"sufficient": self.sufficient, "confidence": round(self.confidence, 4), **band, **self.signals}


def evidence_signals(
    *,
    sentences: Sequence[ScoredSentence],
    retrieval: RetrievalSignals,
    focus: Sequence[ScoredSentence] = (),
    unmatched_names: Sequence[str] = (),
    model: EvidenceModel | None = None,
) -> dict[str, float]:
    """The model's inputs. `focus` ranks the same passages against the question's final question
    sentence, when the question first describes a situation; `unmatched_names` are the names it asks
    about that no passage mentions (`answer_types.names_unmatched`)."""
    model = model or evidence_model()
    best = sentences[0]
    similarity = max(sentence.similarity for sentence in [*sentences, *focus])
    return {
        "best_sentence_similarity": similarity,
        # Without the dense leg the gap is unknown: the value that moves the decision least.
        "passage_gap": retrieval.passage_gap if retrieval.passage_gap is not None else model.means["passage_gap"],
        "question_coverage": focus[0].coverage if focus else best.coverage,
        "question_name_unmatched": 1.0 if unmatched_names else 0.0,
    }


def evidence_assess(
    *,
    sentences: Sequence[ScoredSentence],
    retrieval: RetrievalSignals,
    focus: Sequence[ScoredSentence] = (),
    unmatched_names: Sequence[str] = (),
) -> EvidenceAssessment:
    if not sentences:
        return EvidenceAssessment(sufficient=False, confidence=0.0, reason="no_evidence")
    model = evidence_model()
    signals = evidence_signals(
        sentences=sentences, retrieval=retrieval, focus=focus, unmatched_names=unmatched_names, model=model
    )
    confidence = model.confidence(signals)
    threshold = evidence_threshold(model)
    sufficient = confidence >= threshold
    return EvidenceAssessment(
        sufficient=sufficient,
        confidence=confidence,
        reason="" if sufficient else "insufficient_evidence",
        signals={name: round(value, 4) for name, value in signals.items()},
        borderline=not sufficient and confidence >= min(model.borderline_threshold, threshold),
    )


def evidence_threshold(model: EvidenceModel | None = None) -> float:
    """The fitted threshold, unless the deployment sets ANSWER_EVIDENCE_MIN_CONFIDENCE."""
    configured = getattr(settings, "ANSWER_EVIDENCE_MIN_CONFIDENCE", None)
    return float(configured) if configured is not None else (model or evidence_model()).threshold
