from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.support.cells import Cells, running_cells


@pytest.fixture(scope="session")
def cells(tmp_path_factory) -> Iterator[Cells]:
    """Shard `main` and shard `b`, each with its web process and worker, behind the directory."""
    with running_cells(tmp_path_factory.mktemp("cells")) as running:
        yield running
