"""Fit the fusion's leg curves on several datasets and print the leave-one-dataset-out table."""

from __future__ import annotations

import json
from pathlib import Path

from django.core.management.base import BaseCommand, CommandError

from apps.bench.answers.runner import evaluation_user
from apps.bench.retrieval.fusion_fit import (
    FitError,
    FusionExample,
    fusion_examples,
    leave_one_dataset_out,
    model_file,
    model_fit,
)
from apps.bench.specs import examples_cached, fit_arguments, fit_datasets, in_dataset_tenant
from apps.documents.acl import principals_for_user
from apps.retrieval.calibration import MODEL_PATH


class Command(BaseCommand):
    help = (
        "Collect every leg's candidates and confidence for the questions of several BEIR datasets (each in "
        "its tenant, already ingested), fit the fusion curves on all of them, and print the fusion minus the "
        "best single leg, leave-one-dataset-out."
    )

    def add_arguments(self, parser) -> None:
        fit_arguments(parser, model_file=MODEL_PATH.name)

    def handle(self, *args, **options) -> None:
        specs = fit_datasets(options)
        datasets = examples_cached(specs, options["examples"], collect=_collect, from_row=_example)
        try:
            report = leave_one_dataset_out(datasets)
            model = model_fit(datasets)
        except FitError as error:
            raise CommandError(str(error)) from error
        self.stdout.write(_markdown(report))
        document = model_file(model, fitted_on=datasets, report=report)
        self.stdout.write(json.dumps({key: document[key] for key in ("version", "model", "fitted_on")}, indent=2))
        if options["write"]:
            MODEL_PATH.write_text(json.dumps(document, indent=2) + "\n", encoding="utf-8")
            self.stdout.write(f"wrote {MODEL_PATH}")


def _collect(tenant: str, path: Path) -> list[FusionExample]:
    def work(dataset, tick) -> list[FusionExample]:
        principals = tuple(principals_for_user(evaluation_user()))
        return fusion_examples(dataset=dataset, principals=principals, tenant=tenant, on_query=tick)

    return in_dataset_tenant(tenant, path, work)


def _example(row: dict) -> FusionExample:
    legs = {leg: [(int(chunk), str(document)) for chunk, document in hits] for leg, hits in row["legs"].items()}
    return FusionExample(**{**row, "legs": legs})


def _markdown(report: list[dict]) -> str:
    lines = [
        "Fusion minus the best single leg, recall@5 / nDCG@10",
        "| dataset | questions | best leg | held out | in sample | fixed weights |",
        "| --- | --- | --- | --- | --- | --- |",
    ]
    for row in report:
        best = row["best_leg"]
        cells = [
            f"{row[label]['recall@5 minus best leg']:+.3f} / {row[label]['ndcg@10 minus best leg']:+.3f}"
            for label in ("held_out", "in_sample", "fixed")
        ]
        lines.append(
            f"| {row['dataset']} | {row['questions']} | {best['recall@5']:.3f} / {best['ndcg@10']:.3f} | "
            + " | ".join(cells)
            + " |"
        )
    return "\n".join(lines)
