"""Evidence: sentences of the retrieved passages, scored against the question, and the sufficiency check."""

from .sentences import ScoredSentence, sentences_rank
from .sufficiency import EvidenceAssessment, RetrievalSignals, evidence_assess

__all__ = ["EvidenceAssessment", "RetrievalSignals", "ScoredSentence", "evidence_assess", "sentences_rank"]
