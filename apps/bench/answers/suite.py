"""Every evaluation dataset through retrieval and answer evaluation, each on a fresh tenant, in one table.

The figures docs/retrieval.md and docs/answers.md publish come from here (`make eval`): per dataset,
retrieval quality of every leg and of the fusion (recall@5, nDCG@10), what each leg adds to the
fusion (hybrid minus hybrid without it), and, for datasets whose
questions carry answers or answerability labels, the answers' accuracy, token recall, refusal rates,
citation precision and time to first token.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from apps.bench.corpus import EVALUATION_PRINCIPALS
from apps.bench.fresh_tenants import evaluation_tenant_fresh
from apps.bench.retrieval.beir import BeirDataset, load_dataset
from apps.bench.retrieval.ingest import dataset_corpus_ingest
from apps.bench.retrieval.runner import SINGLE_LEGS, evaluate
from apps.tenants.context import in_tenant

from .runner import answers_evaluate, evaluation_user

TABLE_COLUMNS = (
    ("dataset", "dataset"),
    ("documents", "docs"),
    ("questions", "questions"),
    ("hybrid_recall@5", "hybrid R@5"),
    ("hybrid_ndcg@10", "hybrid nDCG@10"),
    ("best_leg_ndcg@10", "best leg nDCG@10"),
    ("graph_gain_recall@5", "graph adds R@5"),
    ("answer_accuracy", "answer accuracy"),
    ("answer_token_recall", "token recall"),
    ("refusal_rate_answerable", "answerable refused"),
    ("refusal_rate_unanswerable", "unanswerable refused"),
    ("citation_precision", "citation precision"),
    ("ttft_p95_ms", "TTFT p95 ms"),
)


@dataclass(frozen=True)
class SuiteDataset:
    name: str
    path: Path

    @property
    def tenant(self) -> str:
        return "eval_" + "".join(char if char.isalnum() else "_" for char in self.name.casefold())


def suite_datasets(*, eval_dir: Path, extra: list[Path]) -> list[SuiteDataset]:
    """Every BEIR dataset folder under `eval_dir`, then the extra folders (named parent-folder)."""
    found = [SuiteDataset(path.name, path) for path in sorted(eval_dir.iterdir()) if (path / "corpus.jsonl").exists()]
    return found + [SuiteDataset(f"{path.parent.name}-{path.name}", path) for path in extra]


def suite_run(
    datasets: list[SuiteDataset], *, limit: int | None = None, progress: Callable[[str], None] = print
) -> list[dict]:
    rows = []
    for entry in datasets:
        dataset = load_dataset(entry.path)
        if limit:
            dataset.queries = dataset.queries[:limit]
        progress(f"{entry.name}: fresh tenant {entry.tenant}, ingesting")
        evaluation_tenant_fresh(schema=entry.tenant)
        with in_tenant(entry.tenant):
            ingest = dataset_corpus_ingest(dataset)
            progress(f"{entry.name}: retrieval")
            retrieval = evaluate(dataset=dataset, principals=EVALUATION_PRINCIPALS)
            answers = None
            if _has_answer_labels(dataset):
                progress(f"{entry.name}: answers")
                answers = answers_evaluate(dataset=dataset, user=evaluation_user())
        rows.append(_row(entry, dataset, ingest=ingest, retrieval=retrieval, answers=answers))
    return rows


def suite_markdown(rows: list[dict]) -> str:
    header = "| " + " | ".join(title for _, title in TABLE_COLUMNS) + " |"
    rule = "| " + " | ".join("---" for _ in TABLE_COLUMNS) + " |"
    lines = [header, rule]
    for row in rows:
        lines.append("| " + " | ".join(_cell(key, row["table"].get(key)) for key, _ in TABLE_COLUMNS) + " |")
    return "\n".join(lines)


def _has_answer_labels(dataset: BeirDataset) -> bool:
    return any(query.answers or not query.answerable for query in dataset.queries)


def _row(entry: SuiteDataset, dataset: BeirDataset, *, ingest: dict, retrieval: dict, answers: dict | None) -> dict:
    configurations = retrieval["configurations"]
    hybrid = configurations["hybrid"]
    table = {
        "dataset": entry.name,
        "documents": ingest.get("succeeded", 0) + ingest.get("skipped", 0),
        "questions": len(dataset.queries),
        "hybrid_recall@5": hybrid["recall@5"],
        "hybrid_ndcg@10": hybrid["ndcg@10"],
        "best_leg_ndcg@10": max(configurations[leg]["ndcg@10"] for leg in SINGLE_LEGS),
        "graph_gain_recall@5": retrieval["leg_gains"].get("graph", {}).get("recall@5"),
    }
    if answers:
        for key in (
            "answer_accuracy",
            "answer_token_recall",
            "refusal_rate_answerable",
            "refusal_rate_unanswerable",
            "citation_precision",
            "ttft_p95_ms",
        ):
            table[key] = answers.get(key)
    return {"dataset": entry.name, "tenant": entry.tenant, "table": table, "retrieval": retrieval, "answers": answers}


def _cell(key: str, value: object) -> str:
    if value is None:
        return "-"
    if isinstance(value, float):
        return f"{value:.0f}" if key.endswith("_ms") else f"{value:.3f}"
    return str(value)
