"""The state one question carries through the steps; each step reads what earlier ones wrote."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from apps.accounts.models import User
from apps.answers.evidence import EvidenceAssessment, RetrievalSignals
from apps.answers.followups import Turn
from apps.core.pii import PiiMasker
from apps.integrations.llm.base import EvidencePassage
from apps.retrieval.search import RetrievedChunk

LOOKUP = "lookup"
MULTI_HOP = "multi_hop"
OUT_OF_SCOPE = "out_of_scope"
CHIT_CHAT = "chit_chat"


@dataclass(frozen=True)
class Plan:
    kind: str  # lookup | multi_hop | out_of_scope | chit_chat
    legs: tuple[str, ...]
    k: int
    sub_questions: tuple[str, ...] = ()


@dataclass
class EmittedPiece:
    """One verified sentence as streamed: its text (separator included) and the citations it introduced."""

    text: str
    citations: list[dict[str, Any]] = field(default_factory=list)


@dataclass
class AnswerState:
    user: User
    question: str  # what is answered: the user's question, or a follow-up made to stand alone
    tenant_schema: str
    principals: tuple[str, ...]
    channel: str
    legs_requested: Sequence[str] | None = None
    k_requested: int | None = None
    use_cache: bool = True
    asked: str = ""  # the user's own words (set to `question` when empty)
    conversation_id: int | None = None  # the thread this question continues, if any
    earlier_turns: tuple[Turn, ...] = ()  # its earlier questions, oldest first (never their answers)
    focus: str = ""  # what a follow-up fragment adds to the earlier question ("part-timers")

    plan: Plan | None = None
    index_version: int = 0
    leg_statuses: dict[str, str] = field(default_factory=dict)
    passages: list[EvidencePassage] = field(default_factory=list)
    chunks_by_number: dict[int, RetrievedChunk] = field(default_factory=dict)
    retrieval_signals: RetrievalSignals = field(default_factory=RetrievalSignals)
    assessment: EvidenceAssessment | None = None

    # Set when the tenant masks personal data in prompts: puts the values back in the answer's sentences.
    prompt_masker: PiiMasker | None = None
    provider: str = ""
    model: str = ""
    fallbacks: list[dict] = field(default_factory=list)
    input_tokens: int = 0
    output_tokens: int = 0

    pieces: list[EmittedPiece] = field(default_factory=list)
    citations: list[dict[str, Any]] = field(default_factory=list)
    # The passages holding the best sentences of the documents that came closest (evidence ranking),
    # and, for a refusal whose evidence came close, those documents to look in (CitationRegistry.related).
    closest_passages: list[int] = field(default_factory=list)
    related: list[dict[str, Any]] = field(default_factory=list)
    outcome: str = ""
    reason: str = ""
    cached: bool = False
    ttft_ms: float | None = None

    def __post_init__(self) -> None:
        self.asked = self.asked or self.question

    @property
    def standalone_question(self) -> str:
        """The rewritten question when a follow-up was rewritten, else empty."""
        return self.question if self.question != self.asked else ""

    def run_figures(self) -> dict[str, Any]:
        """What the run used and cost, as both the query log row and the result name it."""
        return {
            "legs": self.leg_statuses,
            "model": self.model,
            "provider": self.provider,
            "fallbacks": self.fallbacks,
            "ttft_ms": self.ttft_ms,
            "input_tokens": self.input_tokens,
            "output_tokens": self.output_tokens,
        }

    @property
    def answer(self) -> str:
        return "".join(piece.text for piece in self.pieces)
