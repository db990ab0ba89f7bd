"""What the entity extraction tests share: the keys of a result, and one text through the offline extractor."""

from __future__ import annotations

from apps.text.entities import ExtractedEntity, OfflineEntityExtractor


def keys_of(entities: list[ExtractedEntity]) -> set[str]:
    return {entity.key for entity in entities}


def extract_one(text: str, **kwargs) -> list[ExtractedEntity]:
    return OfflineEntityExtractor(**kwargs).extract(texts=[text])[0]
