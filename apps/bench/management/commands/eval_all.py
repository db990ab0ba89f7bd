"""Every evaluation dataset through retrieval and answer evaluation on fresh tenants: one table."""

from __future__ import annotations

import json
from pathlib import Path

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError

from apps.bench.answers.suite import suite_datasets, suite_markdown, suite_run

HANDBOOK_QUESTIONS = Path(settings.BASE_DIR) / "docs" / "samples" / "handbook-questions"
# Two-hop questions in HotpotQA's style over MuSiQue's corpus (its corpus.jsonl links to ../shared/eval's).
MULTIHOP_QUESTIONS = Path(settings.BASE_DIR) / "docs" / "samples" / "multihop-questions"


# Natural questions over docs/samples/handbook, each set written before its first measurement.
HANDBOOK_QUESTION_SETS = ("dev", "heldout", "late", "fresh", "winter")


class Command(BaseCommand):
    help = (
        "Evaluate retrieval and answers on every BEIR dataset in --eval-dir (and the handbook questions), each "
        "on a fresh tenant eval_<name>; print one table (Markdown) and write it with the full JSON to --output."
    )

    def add_arguments(self, parser) -> None:
        parser.add_argument("--eval-dir", type=Path, default=Path(settings.BASE_DIR).parent / "shared" / "eval")
        parser.add_argument(
            "--extra",
            type=Path,
            action="append",
            help=(
                "further dataset folders (default: the handbook questions: dev, held-out, late, fresh and winter; "
                "the held-out multi-hop questions)"
            ),
        )
        parser.add_argument("--only", help="comma-separated dataset names to run (default: all)")
        parser.add_argument("--limit", type=int, help="only the first N questions of each dataset")
        parser.add_argument("--output", type=Path, default=Path(settings.BASE_DIR) / "var" / "eval")

    def handle(self, *args, **options) -> None:
        eval_dir: Path = options["eval_dir"]
        if not eval_dir.is_dir():
            raise CommandError(f"{eval_dir} is not a folder of BEIR datasets")
        if options["limit"] is not None and options["limit"] < 1:
            raise CommandError("--limit must be at least 1")
        extra = options["extra"] or [
            *(HANDBOOK_QUESTIONS / split for split in HANDBOOK_QUESTION_SETS),
            MULTIHOP_QUESTIONS / "heldout",
        ]
        datasets = suite_datasets(eval_dir=eval_dir, extra=extra)
        if options["only"]:
            wanted = {name.strip() for name in options["only"].split(",") if name.strip()}
            unknown = wanted - {dataset.name for dataset in datasets}
            if unknown:
                raise CommandError(f"unknown datasets {sorted(unknown)}; found {[d.name for d in datasets]}")
            datasets = [dataset for dataset in datasets if dataset.name in wanted]
        rows = suite_run(datasets, limit=options["limit"], progress=lambda line: self.stderr.write(line))
        table = suite_markdown(rows)
        output: Path = options["output"]
        output.mkdir(parents=True, exist_ok=True)
        (output / "report.md").write_text(table + "\n", encoding="utf-8")
        (output / "report.json").write_text(json.dumps(rows, indent=2) + "\n", encoding="utf-8")
        self.stdout.write(table)
        self.stdout.write(f"\nwritten: {output / 'report.md'}, {output / 'report.json'}")
