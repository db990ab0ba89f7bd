"""Is the evidence good enough to answer, or should the answer say it does not know?

One cosine threshold on the best sentence confuses "on topic" with "answers the question". The
decision combines four signals, each cheap and available for every question:

- `best_sentence_similarity`: cosine of the question to the best sentence of the evidence;
- `best_passage_similarity`: the dense leg's cosine for the best passage (the chunk as a whole);
- `best_sentence_coverage`: share of the question's terms that the best sentence, its title and
  headings contain (a relevant passage that never mentions what is asked scores low);
- `legs_agree`: the top passage is ranked first by both the dense and the keyword leg.

They are weighed by a logistic model fitted once, globally, on ClapNQ (150 answerable, 153
unanswerable questions; 5-fold cross-validated refusal rates 0.77 / 0.13, see docs/answers.md),
and the answer is refused below settings.ANSWER_EVIDENCE_MIN_CONFIDENCE. The answer type ("who"
needs a name, "when" a date) was measured too and carried no signal there (AUC 0.51), so it only
helps rank sentences. Nothing here is tuned per question.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field

from django.conf import settings

from .sentences import ScoredSentence

WEIGHTS = {
    "best_sentence_similarity": 7.836,
    "best_passage_similarity": 7.893,
    "best_sentence_coverage": 1.062,
    "legs_agree": 0.610,
}
INTERCEPT = -10.379
# When a leg did not run its signal is unknown: use the value that moves the decision least.
NEUTRAL_AGREEMENT = 0.5


@dataclass(frozen=True)
class RetrievalSignals:
    """What retrieval tells about the best passage (None when the dense or keyword leg did not run)."""

    best_passage_similarity: float | None = None
    legs_agree: bool | None = None


@dataclass(frozen=True)
class EvidenceAssessment:
    sufficient: bool
    confidence: float
    reason: str  # "" when sufficient; "no_evidence" | "insufficient_evidence"
    signals: dict[str, float] = field(default_factory=dict)

    def summary(self) -> dict:
        return {"sufficient": self.sufficient, "confidence": round(self.confidence, 4), **self.signals}


def evidence_assess(*, sentences: Sequence[ScoredSentence], retrieval: RetrievalSignals) -> EvidenceAssessment:
    if not sentences:
        return EvidenceAssessment(sufficient=False, confidence=0.0, reason="no_evidence")
    best = sentences[0]
    best_similarity = max(sentence.similarity for sentence in sentences)
    signals = {
        "best_sentence_similarity": best_similarity,
        # Without the dense leg the passage cosine is unknown; the best sentence's is its closest stand-in.
        "best_passage_similarity": (
            retrieval.best_passage_similarity if retrieval.best_passage_similarity is not None else best_similarity
        ),
        "best_sentence_coverage": best.coverage,
        "legs_agree": NEUTRAL_AGREEMENT if retrieval.legs_agree is None else float(retrieval.legs_agree),
    }
    logit = INTERCEPT + sum(WEIGHTS[name] * value for name, value in signals.items())
    confidence = 1.0 / (1.0 + math.exp(-logit))
    sufficient = confidence >= settings.ANSWER_EVIDENCE_MIN_CONFIDENCE
    return EvidenceAssessment(
        sufficient=sufficient,
        confidence=confidence,
        reason="" if sufficient else "insufficient_evidence",
        signals={name: round(value, 4) for name, value in signals.items()},
    )
