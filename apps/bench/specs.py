"""The fit commands' common arguments: `--dataset NAME=TENANT:PATH` (a dataset, the tenant it is
ingested in, its folder), `--examples FILE` (collected inputs kept for a re-fit), `--write`."""

from __future__ import annotations

from pathlib import Path

from django.core.management.base import CommandError

MIN_FIT_DATASETS = 2  # one is always left out


def fit_arguments(parser, *, model_file: str) -> None:
    parser.add_argument(
        "--dataset", action="append", default=[], metavar="NAME=TENANT:PATH", help="a dataset to fit on"
    )
    parser.add_argument("--examples", type=Path, help="JSON file: reuse the inputs collected there, or save them")
    parser.add_argument("--write", action="store_true", help=f"write the fitted model to {model_file}")


def fit_datasets(options: dict) -> list[tuple[str, str, Path]]:
    specs = [dataset_spec(spec) for spec in options["dataset"]]
    if len(specs) < MIN_FIT_DATASETS:
        raise CommandError("give at least two --dataset NAME=TENANT:PATH: one is always left out")
    return specs


def dataset_spec(spec: str) -> tuple[str, str, Path]:
    name, _, rest = spec.partition("=")
    tenant, _, path = rest.partition(":")
    if not (name and tenant and path):
        raise CommandError(f"{spec!r}: expected NAME=TENANT:PATH")
    return name, tenant, Path(path)
