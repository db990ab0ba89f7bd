"""A document's names: its title and its file name as people see them in lists, search and citations."""

from __future__ import annotations

from django.core.exceptions import ValidationError

from .models import Document


def document_title_set(*, document: Document, title: str) -> Document:
    """Rename a document (audited by django-auditlog); nothing else about it changes."""
    title = " ".join(title.split())
    if not title or len(title) > Document._meta.get_field("title").max_length:  # type: ignore[operator]
        raise ValidationError({"title": ["a title of 1 to 500 characters is required"]})
    document.title = title
    document.save(update_fields=["title", "updated_at"])
    return document


def document_names_set(*, document: Document, title: str, source: str) -> Document:
    """A document's title and file name as a policy now shows them (a PII backfill); a no-op when unchanged."""
    if (document.title, document.source) != (title, source):
        document.title, document.source = title[:500], source[:1000]
        document.save(update_fields=["title", "source", "updated_at"])
    return document
