from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.support.fake_embeddings_server import FakeEmbeddingsServer

from .embedding_support import DIMENSIONS


@pytest.fixture
def server() -> Iterator[FakeEmbeddingsServer]:
    """A real local HTTP server speaking the OpenAI embeddings protocol (remote embedder, factory)."""
    with FakeEmbeddingsServer(dimensions=DIMENSIONS) as running:
        yield running
