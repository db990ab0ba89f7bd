"""`NAME=TENANT:PATH` arguments of the fit commands: a dataset, the tenant it is ingested in, its folder."""

from __future__ import annotations

from pathlib import Path

from django.core.management.base import CommandError


def dataset_spec(spec: str) -> tuple[str, str, Path]:
    name, _, rest = spec.partition("=")
    tenant, _, path = rest.partition(":")
    if not (name and tenant and path):
        raise CommandError(f"{spec!r}: expected NAME=TENANT:PATH")
    return name, tenant, Path(path)
