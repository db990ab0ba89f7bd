"""Evaluate retrieval on a BEIR-layout dataset: recall@5/10, nDCG@10, MRR@10 and latency per configuration."""

from __future__ import annotations

import json
from pathlib import Path

from django.core.management.base import BaseCommand, CommandError
from tqdm import tqdm

from apps.bench.corpus import EVALUATION_PRINCIPALS
from apps.bench.retrieval.beir import load_dataset
from apps.bench.retrieval.ingest import dataset_corpus_ingest
from apps.bench.retrieval.runner import CONFIGURATIONS, evaluate
from apps.core.errors import TenantContextRequired
from apps.tenants.context import in_tenant


class Command(BaseCommand):
    help = "Run a BEIR dataset's queries through the real retrieval path and print metrics as JSON."

    def add_arguments(self, parser) -> None:
        parser.add_argument("--tenant", required=True)
        parser.add_argument("--dataset", required=True, help="folder with corpus.jsonl, queries.jsonl, qrels/")
        parser.add_argument("--split", help="qrels split (default: the only one, else test)")
        parser.add_argument("--ingest", action="store_true", help="ingest the corpus first (idempotent)")
        parser.add_argument("--k", type=int, default=10)
        parser.add_argument("--limit", type=int, help="evaluate only the first N queries")
        parser.add_argument(
            "--configurations",
            default=",".join(CONFIGURATIONS),
            help="comma-separated subset of " + ",".join(CONFIGURATIONS),
        )

    def handle(self, *args, **options) -> None:
        try:
            dataset = load_dataset(Path(options["dataset"]), split=options["split"])
        except FileNotFoundError as error:
            raise CommandError(str(error)) from error
        if options["limit"]:
            dataset.queries = dataset.queries[: options["limit"]]
        names = [name.strip() for name in options["configurations"].split(",") if name.strip()]
        unknown = set(names) - set(CONFIGURATIONS)
        if unknown:
            raise CommandError(f"unknown configurations {sorted(unknown)}")
        try:
            with in_tenant(options["tenant"]):
                report = self._run(dataset, options, {name: CONFIGURATIONS[name] for name in names})
        except TenantContextRequired as error:
            raise CommandError(str(error)) from error
        self.stdout.write(json.dumps(report, indent=2))

    def _run(self, dataset, options, configurations) -> dict:
        report: dict = {"dataset": str(dataset.root), "tenant": options["tenant"]}
        if options["ingest"]:
            report["ingest"] = dataset_corpus_ingest(dataset)
        total = sum(1 for query in dataset.queries if dataset.qrels.get(query.id)) * len(configurations)
        with tqdm(total=total, unit="query", desc="evaluate", disable=None) as bar:
            report.update(
                evaluate(
                    dataset=dataset,
                    principals=EVALUATION_PRINCIPALS,
                    k=options["k"],
                    configurations=configurations,
                    on_query=lambda: bar.update(1),
                )
            )
        return report
