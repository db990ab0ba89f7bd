"""Pick the entity extractor for the current settings, the way Django picks EMAIL_BACKEND.

ENTITY_EXTRACTOR_BACKEND names a class by dotted path; empty means "Claude when a key is
configured, else offline". Nothing is cached, so `override_settings` in tests takes effect at once.
"""

from __future__ import annotations

from django.conf import settings

from apps.core.adapters import backend_class

from .base import EntityExtractor
from .offline import OfflineEntityExtractor


def entity_extractor() -> EntityExtractor:
    if settings.ENTITY_EXTRACTOR_BACKEND:
        extractor: EntityExtractor = backend_class("ENTITY_EXTRACTOR_BACKEND")()
        return extractor
    if settings.ANTHROPIC_API_KEY:
        # Imported here: the SDK is only loaded by processes that actually call Claude.
        from .llm import LlmEntityExtractor

        return LlmEntityExtractor()
    return OfflineEntityExtractor()
