"""Fit the evidence-sufficiency model on several datasets and print its leave-one-dataset-out table."""

from __future__ import annotations

import json
from dataclasses import asdict
from pathlib import Path

from django.core.management.base import BaseCommand, CommandError
from tqdm import tqdm

from apps.answers.evidence.sufficiency import MODEL_PATH
from apps.bench.answers.evidence_fit import (
    Example,
    evidence_examples,
    leave_one_dataset_out,
    model_file,
    model_fit,
)
from apps.bench.answers.runner import evaluation_user
from apps.bench.retrieval.beir import load_dataset
from apps.bench.retrieval.ingest import dataset_corpus_ingest
from apps.bench.specs import dataset_spec, fit_arguments, fit_datasets
from apps.core.errors import TenantContextRequired
from apps.tenants.context import in_tenant


class Command(BaseCommand):
    help = (
        "Collect evidence signals for every question of several BEIR datasets (each in its own tenant), fit "
        "the sufficiency model on all of them, and print the leave-one-dataset-out refusal rates."
    )

    def add_arguments(self, parser) -> None:
        fit_arguments(parser, model_file=MODEL_PATH.name)
        parser.add_argument(
            "--held-out", action="append", default=[], metavar="NAME=TENANT:PATH", help="measured, never fitted on"
        )
        parser.add_argument("--ingest", action="store_true", help="ingest each corpus first (idempotent)")

    def handle(self, *args, **options) -> None:
        fit_specs = fit_datasets(options)
        held_specs = [dataset_spec(spec) for spec in options["held_out"]]
        examples = self._examples(fit_specs + held_specs, options)
        fitted_on = {name: examples[name] for name, _, _ in fit_specs}
        held_out = {name: examples[name] for name, _, _ in held_specs}
        report = leave_one_dataset_out(fitted_on, extra_held_out=held_out)
        model = model_fit(fitted_on)
        self.stdout.write(_markdown(report, model.threshold))
        document = model_file(model, fitted_on=fitted_on, report=report)
        self.stdout.write(json.dumps(document, indent=2))
        if options["write"]:
            MODEL_PATH.write_text(json.dumps(document, indent=2) + "\n", encoding="utf-8")
            self.stdout.write(f"wrote {MODEL_PATH}")

    def _examples(self, specs: list[tuple[str, str, Path]], options) -> dict[str, list[Example]]:
        stored: dict[str, list[Example]] = {}
        cache_file: Path | None = options["examples"]
        if cache_file and cache_file.exists():
            raw = json.loads(cache_file.read_text(encoding="utf-8"))
            stored = {name: [Example(**example) for example in rows] for name, rows in raw.items()}
        for name, tenant, path in specs:
            if name not in stored:
                stored[name] = self._collect(tenant, path, ingest=options["ingest"])
        if cache_file:
            cache_file.write_text(
                json.dumps({n: [asdict(e) for e in ex] for n, ex in stored.items()}), encoding="utf-8"
            )
        return stored

    def _collect(self, tenant: str, path: Path, *, ingest: bool) -> list[Example]:
        try:
            dataset = load_dataset(path)
        except FileNotFoundError as error:
            raise CommandError(str(error)) from error
        try:
            with in_tenant(tenant):
                if ingest:
                    dataset_corpus_ingest(dataset)
                with tqdm(total=len(dataset.queries), unit="question", desc=path.name, disable=None) as bar:
                    return evidence_examples(
                        dataset=dataset, user=evaluation_user(), tenant_schema=tenant, on_query=lambda: bar.update(1)
                    )
        except TenantContextRequired as error:
            raise CommandError(str(error)) from error


def _markdown(report: list[dict], threshold: float) -> str:
    lines = [
        f"threshold (fitted on all): {threshold}",
        "| dataset | questions | held out: answerable refused | unanswerable refused "
        "| in sample: answerable refused | unanswerable refused |",
        "| --- | --- | --- | --- | --- | --- |",
    ]
    for row in report:
        held, inside = row["held_out"], row.get("in_sample") or {}
        lines.append(
            f"| {row['dataset']} | {row['questions']} | {_rate(held['refusal_rate_answerable'])} "
            f"| {_rate(held['refusal_rate_unanswerable'])} | {_rate(inside.get('refusal_rate_answerable'))} "
            f"| {_rate(inside.get('refusal_rate_unanswerable'))} |"
        )
    return "\n".join(lines)


def _rate(value: float | None) -> str:
    return "-" if value is None else f"{value:.3f}"
