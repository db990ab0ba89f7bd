"""Golden sets: reviewed feedback exported as a BEIR dataset, and run back as a regression suite.

Layout (the BEIR layout of ../shared/eval, plus the checks of the brief's section 8.4):

    corpus.jsonl      {"_id": "chunk-<id>", "title", "text", "source", "document_id"}
    queries.jsonl     {"_id": "feedback-<id>", "text", "answers", "expected_sources",
                       "must_contain", "must_not_contain", "rating"}
    qrels/test.tsv    query-id <TAB> corpus-id <TAB> score (1 = the chunk supports the answer)

A case's relevant chunks are the ones its answer cited, minus those the user flagged as wrong;
its expected sources are their documents' sources (file names or paths). `must_contain` and
`must_not_contain` are the phrases the reviewer set.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from apps.documents.models import Chunk

from .models import Feedback
from .selectors import feedback_reviewed_for_golden_set

QRELS_SPLIT = "test"


class GoldenSetError(ValueError):
    """A dataset directory that is missing files or holds malformed lines."""


@dataclass(frozen=True)
class GoldenCase:
    id: str
    text: str
    expected_sources: list[str] = field(default_factory=list)
    must_contain: list[str] = field(default_factory=list)
    must_not_contain: list[str] = field(default_factory=list)
    expected_outcome: str = "answered"


@dataclass(frozen=True)
class CaseResult:
    case: GoldenCase
    failures: list[str]
    outcome: str = ""

    @property
    def passed(self) -> bool:
        return not self.failures


# --- Export ----------------------------------------------------------------------------------------


def golden_set_export(*, out_dir: Path) -> int:
    """Write the current tenant's reviewed feedback as a dataset; returns the number of cases."""
    cases = list(feedback_reviewed_for_golden_set())
    chunk_ids = sorted({chunk_id for feedback in cases for chunk_id in _relevant_chunk_ids(feedback)})
    chunks = {chunk.pk: chunk for chunk in Chunk.objects.filter(pk__in=chunk_ids).select_related("document")}
    (out_dir / "qrels").mkdir(parents=True, exist_ok=True)
    _write_lines(
        out_dir / "corpus.jsonl", (_corpus_line(chunks[chunk_id]) for chunk_id in chunk_ids if chunk_id in chunks)
    )
    _write_lines(out_dir / "queries.jsonl", (_query_line(feedback, chunks) for feedback in cases))
    with (out_dir / "qrels" / f"{QRELS_SPLIT}.tsv").open("w", encoding="utf-8") as qrels:
        qrels.write("query-id\tcorpus-id\tscore\n")
        for feedback in cases:
            for chunk_id in _relevant_chunk_ids(feedback):
                if chunk_id in chunks:
                    qrels.write(f"feedback-{feedback.pk}\tchunk-{chunk_id}\t1\n")
    return len(cases)


def _relevant_chunk_ids(feedback: Feedback) -> list[int]:
    flagged = set(feedback.flagged_chunk_ids or [])
    return [chunk_id for chunk_id in feedback.cited_chunk_ids or [] if chunk_id not in flagged]


def _corpus_line(chunk: Chunk) -> dict[str, Any]:
    document = chunk.document
    return {
        "_id": f"chunk-{chunk.pk}",
        "title": document.title,
        "text": chunk.text,
        "source": document.source,
        "document_id": document.pk,
    }


def _query_line(feedback: Feedback, chunks: dict[int, Chunk]) -> dict[str, Any]:
    sources = sorted(
        {chunks[chunk_id].document.source for chunk_id in _relevant_chunk_ids(feedback) if chunk_id in chunks}
    )
    if feedback.corrected_answer:
        answers = [feedback.corrected_answer]
    else:
        answers = [feedback.answer] if feedback.rating == Feedback.Rating.HELPFUL and feedback.answer else []
    return {
        "_id": f"feedback-{feedback.pk}",
        "text": feedback.question,
        "answers": answers,
        "expected_sources": sources,
        "must_contain": list(feedback.must_contain or []),
        "must_not_contain": list(feedback.must_not_contain or []),
        "rating": feedback.rating,
    }


def _write_lines(path: Path, rows: Iterable[dict[str, Any]]) -> None:
    with path.open("w", encoding="utf-8") as handle:
        for row in rows:
            handle.write(json.dumps(row, ensure_ascii=False) + "\n")


# --- Load and evaluate -------------------------------------------------------------------------


def golden_cases_load(dataset_dir: Path) -> list[GoldenCase]:
    """Read queries.jsonl of a dataset directory; every problem names its file and line."""
    path = dataset_dir / "queries.jsonl"
    if not path.is_file():
        raise GoldenSetError(f"{path} does not exist (expected a BEIR dataset directory)")
    cases = []
    with path.open(encoding="utf-8") as handle:
        for number, line in enumerate(handle, start=1):
            if line.strip():
                cases.append(_case_from_line(line, where=f"{path}:{number}"))
    if not cases:
        raise GoldenSetError(f"{path} holds no cases")
    return cases


def _case_from_line(line: str, *, where: str) -> GoldenCase:
    try:
        row = json.loads(line)
    except ValueError as error:
        raise GoldenSetError(f"{where}: not JSON ({error})") from error
    if not isinstance(row, dict) or not isinstance(row.get("_id"), str) or not isinstance(row.get("text"), str):
        raise GoldenSetError(f'{where}: each line needs "_id" and "text" strings')
    lists = {}
    for key in ("expected_sources", "must_contain", "must_not_contain"):
        value = row.get(key, [])
        if not isinstance(value, list) or not all(isinstance(item, str) for item in value):
            raise GoldenSetError(f'{where}: "{key}" must be a list of strings')
        lists[key] = value
    outcome = row.get("expected_outcome", "answered")
    if not isinstance(outcome, str):
        raise GoldenSetError(f'{where}: "expected_outcome" must be a string')
    return GoldenCase(id=row["_id"], text=row["text"], expected_outcome=outcome, **lists)


def golden_case_check(case: GoldenCase, *, answer: str, outcome: str, sources: list[dict[str, Any]]) -> CaseResult:
    """Why the answer fails the case (an empty list: it passes)."""
    failures = []
    if outcome != case.expected_outcome:
        failures.append(f"outcome {outcome!r}, expected {case.expected_outcome!r}")
    lowered = answer.lower()
    failures += [f"answer lacks {phrase!r}" for phrase in case.must_contain if phrase.lower() not in lowered]
    failures += [f"answer contains {phrase!r}" for phrase in case.must_not_contain if phrase.lower() in lowered]
    if case.expected_sources:
        cited = {str(source.get(key, "")) for source in sources for key in ("source", "title")} - {""}
        if not cited & set(case.expected_sources):
            failures.append(f"none of the expected sources {case.expected_sources} cited (got {sorted(cited)})")
    return CaseResult(case=case, failures=failures, outcome=outcome)
