from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.support.cells import Cells, running_cells


@pytest.fixture(scope="package")
def cells(tmp_path_factory) -> Iterator[Cells]:
    """Shard `main` and shard `b`, each with its web process and worker, behind the directory.

    Stopped when this package's tests end: shard main's worker listens on the test profile's broker,
    and would take (and drop, for tenants it does not hold) the tasks of later tests' own workers."""
    with running_cells(tmp_path_factory.mktemp("cells")) as running:
        yield running
