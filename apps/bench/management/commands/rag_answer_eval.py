"""Evaluate grounded answers on a BEIR-layout dataset: accuracy, refusals, citation precision, latency."""

from __future__ import annotations

import json
from pathlib import Path

from django.core.management.base import BaseCommand, CommandError
from tqdm import tqdm

from apps.bench.answers.runner import answers_evaluate, evaluation_user
from apps.bench.answers.typos import TYPO_KINDS, queries_with_typos
from apps.bench.retrieval.beir import load_dataset
from apps.bench.retrieval.ingest import dataset_corpus_ingest
from apps.core.errors import TenantContextRequired
from apps.tenants.context import in_tenant


class Command(BaseCommand):
    help = "Answer every question of a BEIR dataset through answer_question and print metrics as JSON."

    def add_arguments(self, parser) -> None:
        parser.add_argument("--tenant", required=True)
        parser.add_argument("--dataset", required=True, help="folder with corpus.jsonl, queries.jsonl, qrels/")
        parser.add_argument("--split", help="qrels split (default: the only one, else test)")
        parser.add_argument("--ingest", action="store_true", help="ingest the corpus first (idempotent)")
        parser.add_argument("--limit", type=int, help="answer only the first N questions")
        parser.add_argument(
            "--typos",
            choices=TYPO_KINDS,
            help="ask each question with one typo in its longest word: two letters swapped, or one left out",
        )

    def handle(self, *args, **options) -> None:
        try:
            dataset = load_dataset(Path(options["dataset"]), split=options["split"])
        except FileNotFoundError as error:
            raise CommandError(str(error)) from error
        if options["limit"] is not None:
            if options["limit"] < 1:
                raise CommandError("--limit must be at least 1")
            dataset.queries = dataset.queries[: options["limit"]]
        if options["typos"]:
            dataset.queries = queries_with_typos(dataset.queries, options["typos"])
        try:
            with in_tenant(options["tenant"]):
                report = self._run(dataset, options)
        except TenantContextRequired as error:
            raise CommandError(str(error)) from error
        self.stdout.write(json.dumps(report, indent=2))

    def _run(self, dataset, options) -> dict:
        report: dict = {"dataset": str(dataset.root), "tenant": options["tenant"]}
        if options["ingest"]:
            report["ingest"] = dataset_corpus_ingest(dataset)
        with tqdm(total=len(dataset.queries), unit="question", desc="answer", disable=None) as bar:
            report.update(answers_evaluate(dataset=dataset, user=evaluation_user(), on_query=lambda: bar.update(1)))
        return report
