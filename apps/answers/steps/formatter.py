"""Formatter: the final citations and the source list (one entry per cited document, in citation order)."""

from __future__ import annotations

from apps.answers.citations import CitationRegistry
from apps.answers.orchestrator.state import AnswerState
from apps.answers.orchestrator.trace import StepRecord


def formatter_run(state: AnswerState, registry: CitationRegistry, record: StepRecord) -> None:
    state.citations = list(registry.citations)
    record.summary.update({"citations": len(state.citations), "sources": len(sources_of(state.citations))})
    if state.related:  # what a near miss named, for whoever must later say who saw what (ids only)
        record.summary["related_chunk_ids"] = [item["chunk_id"] for item in state.related]


def sources_of(citations: list[dict]) -> list[dict]:
    sources: dict[int, dict] = {}
    for citation in citations:
        source = sources.setdefault(
            citation["document_id"],
            {
                "document_id": citation["document_id"],
                "title": citation["title"],
                "source": citation["source"],
                "chunk_ids": [],
                "numbers": [],
            },
        )
        source["chunk_ids"].append(citation["chunk_id"])
        source["numbers"].append(citation["number"])
    return list(sources.values())
