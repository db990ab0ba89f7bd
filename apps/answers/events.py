"""What `answer_question` returns: one `AnswerResult`, or a stream of `AnswerEvent`s ending with `done`."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field, fields
from typing import Any

# Event types, in the order a stream produces them: any number of `citation` and `token` events
# (a citation always before the first token that uses its number), then `error` if the run failed
# or timed out, then exactly one `trace` and one `done`.
TOKEN = "token"  # noqa: S105 - an event type, not a secret; data {"text"}
CITATION = "citation"  # {"number", "chunk_id", "document_id", "title", "source"}
ERROR = "error"  # {"code": "timed_out" | "failed", "message"}
TRACE = "trace"  # ExecutionTrace.as_dict()
DONE = "done"  # AnswerResult.as_dict()


@dataclass(frozen=True)
class AnswerEvent:
    type: str
    data: dict[str, Any]


@dataclass
class AnswerResult:
    query_id: int
    answer: str
    outcome: str  # answered | refused | blocked | timed_out | failed
    citations: list[dict] = field(default_factory=list)
    sources: list[dict] = field(default_factory=list)
    related: list[dict] = field(default_factory=list)  # a near miss: documents to look in, not an answer
    legs: dict[str, str] = field(default_factory=dict)
    model: str = ""
    provider: str = ""
    fallbacks: list[dict] = field(default_factory=list)
    latency_ms: float = 0.0
    ttft_ms: float | None = None
    input_tokens: int = 0
    output_tokens: int = 0
    trace_id: str = ""
    trace: dict = field(default_factory=dict)
    reason: str = ""  # why it was refused, blocked or failed (a code, never document text)
    cached: bool = False
    conversation_id: int | None = None  # the thread this question started or continued
    standalone_question: str = ""  # a follow-up as rewritten from its thread ("" when not rewritten)

    def as_dict(self, keys: Iterable[str] | None = None) -> dict[str, Any]:
        """The fields (or only `keys`) as a dict. Shallow: the lists and the trace are shared, not
        copied (dataclasses.asdict deep-copied the whole trace twice per answer); nobody mutates them."""
        names = [item.name for item in fields(self)] if keys is None else keys
        return {name: getattr(self, name) for name in names}
