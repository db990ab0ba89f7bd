"""Entities in chunk texts and questions, for the knowledge graph.

`entity_extractor().extract(texts=[...])` gives one list of `ExtractedEntity` per chunk;
`extract_query_entities(text=...)` gives a question's entities with the same keys, so the
retrieval leg can find the chunks and neighbours of what a question names.
"""

from .base import EntityExtractor, ExtractedEntity
from .factory import entity_extractor
from .keys import entity_key
from .offline import OfflineEntityExtractor, extract_query_entities

__all__ = [
    "EntityExtractor",
    "ExtractedEntity",
    "OfflineEntityExtractor",
    "entity_extractor",
    "entity_key",
    "extract_query_entities",
]
