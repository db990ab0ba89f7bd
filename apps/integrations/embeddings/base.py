"""The embedder interface every backend implements, and the one error it raises."""

from __future__ import annotations

from typing import Protocol

import numpy as np
import numpy.typing as npt

from apps.core.errors import PortalError

Vector = npt.NDArray[np.float32]
"""float32 array: one row per text from `embed_documents`, one vector from `embed_query`."""


class EmbeddingError(PortalError):
    """Embedding failed. `transient` tells the caller (a Celery task, say) whether retrying later can help."""

    def __init__(self, message: str, *, transient: bool) -> None:
        super().__init__(message)
        self.transient = transient


class Embedder(Protocol):
    # Stored next to every vector and part of every cache key: vectors from different models are not
    # comparable, so a change of model must show up here (and triggers a re-embed).
    model_name: str
    dimensions: int

    def embed_documents(self, texts: list[str]) -> Vector:
        """float32 array of shape (len(texts), dimensions), rows L2-normalised, in the order of `texts`."""
        ...

    def embed_query(self, text: str) -> Vector:
        """float32 array of shape (dimensions,), L2-normalised."""
        ...

    def count_tokens(self, text: str) -> int:
        """Tokens `text` costs the model, not counting special tokens the backend adds; for the chunker."""
        ...


def l2_normalised(vectors: Vector) -> Vector:
    """Rows scaled to unit length; an all-zero row stays zero rather than turning into NaN."""
    norms = np.linalg.norm(vectors, axis=1, keepdims=True)
    return (vectors / np.maximum(norms, np.float32(1e-12))).astype(np.float32, copy=False)
