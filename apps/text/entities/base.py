"""What an entity extractor returns, and the interface every extractor implements."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol


@dataclass(frozen=True, slots=True)
class ExtractedEntity:
    """One entity mentioned in one chunk.

    `key` is the canonical form the graph merges on (see `entity_key`); `name` is a readable surface
    form; `kind` is a short lower-case label; `weight` in (0, 1] says how central the entity is to
    the chunk, comparable across chunks.
    """

    key: str
    name: str
    kind: str
    weight: float


class EntityExtractor(Protocol):
    def extract(self, *, texts: list[str]) -> list[list[ExtractedEntity]]:
        """One list of entities per input text, in input order; an empty text gives an empty list."""
        ...
