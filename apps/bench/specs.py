"""What the fit commands share: `--dataset NAME=TENANT:PATH` (a dataset, the tenant it is ingested
in, its folder), `--examples FILE` (the collected inputs kept for a re-fit), `--write`, and the
collection of those inputs question by question in each dataset's tenant."""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import asdict
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

from django.core.management.base import CommandError
from tqdm import tqdm

from apps.bench.retrieval.beir import BeirDataset, load_dataset
from apps.core.errors import TenantContextRequired
from apps.tenants.context import in_tenant

if TYPE_CHECKING:
    from _typeshed import DataclassInstance

Example = TypeVar("Example", bound="DataclassInstance")  # saved with dataclasses.asdict

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


def examples_cached(
    specs: list[tuple[str, str, Path]],
    cache_file: Path | None,
    *,
    collect: Callable[[str, Path], list[Example]],
    from_row: Callable[[dict], Example],
) -> dict[str, list[Example]]:
    """Each dataset's inputs: read from `cache_file` when it holds them, else collected (and saved)."""
    stored: dict[str, list[Example]] = {}
    if cache_file and cache_file.exists():
        raw = json.loads(cache_file.read_text(encoding="utf-8"))
        stored = {name: [from_row(row) for row in rows] for name, rows in raw.items()}
    for name, tenant, path in specs:
        if name not in stored:
            stored[name] = collect(tenant, path)
    if cache_file:
        rows = {name: [asdict(example) for example in examples] for name, examples in stored.items()}
        cache_file.write_text(json.dumps(rows), encoding="utf-8")
    return {name: stored[name] for name, _, _ in specs}


def in_dataset_tenant(
    tenant: str, path: Path, work: Callable[[BeirDataset, Callable[[], Any]], list[Example]]
) -> list[Example]:
    """`work(dataset, tick)` inside the dataset's tenant, with a progress bar it ticks per question;
    a missing dataset or tenant is a command error."""
    try:
        dataset = load_dataset(path)
    except FileNotFoundError as error:
        raise CommandError(str(error)) from error
    try:
        with (
            in_tenant(tenant),
            tqdm(total=len(dataset.queries), unit="question", desc=path.name, disable=None) as bar,
        ):
            return work(dataset, lambda: bar.update(1))
    except TenantContextRequired as error:
        raise CommandError(str(error)) from error
