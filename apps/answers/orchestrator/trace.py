"""The execution trace: what each step of one answer did, how long it took and how it ended.

Summaries hold counts, scores and codes only, never question or document text, so the trace can
be logged, stored with the query log and sent to the client.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any

STEP_NAMES = ("planner", "retriever", "synthesizer", "verifier", "critic", "citation", "formatter")


@dataclass
class StepRecord:
    name: str
    outcome: str = "ok"  # ok | timed_out | failed | cancelled
    started_ms: float = 0.0  # since the question arrived
    duration_ms: float = 0.0  # time spent inside the step (summed when it runs once per sentence)
    calls: int = 0
    budget_ms: float = 0.0
    summary: dict[str, Any] = field(default_factory=dict)


@dataclass
class ExecutionTrace:
    trace_id: str
    # One list per trace (roadmap 1.1): a shared mutable default would leak steps between questions.
    steps: list[StepRecord] = field(default_factory=list)

    def step(self, name: str) -> StepRecord:
        """The record of `name`, created on its first use, so steps appear in the order they ran."""
        for record in self.steps:
            if record.name == name:
                return record
        record = StepRecord(name=name)
        self.steps.append(record)
        return record

    def as_dict(self) -> dict[str, Any]:
        return {
            "trace_id": self.trace_id,
            "steps": [
                {
                    **asdict(record),
                    "duration_ms": round(record.duration_ms, 2),
                    "started_ms": round(record.started_ms, 2),
                }
                for record in self.steps
            ],
        }
