"""Fit the evidence-sufficiency model on several datasets and print its leave-one-dataset-out table."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

from django.core.management.base import BaseCommand

from apps.answers.evidence.sufficiency import MODEL_PATH
from apps.bench.answers.evidence_fit import (
    Example,
    evidence_examples,
    leave_one_dataset_out,
    model_file,
    model_fit,
)
from apps.bench.answers.runner import evaluation_user
from apps.bench.retrieval.ingest import dataset_corpus_ingest
from apps.bench.specs import dataset_spec, examples_cached, fit_arguments, fit_datasets, in_dataset_tenant


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
        examples = examples_cached(
            fit_specs + held_specs,
            options["examples"],
            collect=_collector(ingest=options["ingest"]),
            from_row=lambda row: Example(**row),
        )
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


def _collector(*, ingest: bool) -> Callable[[str, Path], list[Example]]:
    def collect(tenant: str, path: Path) -> list[Example]:
        def work(dataset, tick) -> list[Example]:
            if ingest:
                dataset_corpus_ingest(dataset)
            return evidence_examples(dataset=dataset, user=evaluation_user(), tenant_schema=tenant, on_query=tick)

        return in_dataset_tenant(tenant, path, work)

    return collect


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
