"""Factories for documents and users in the current tenant schema."""

from __future__ import annotations

import factory
from django.contrib.auth.models import Group

from apps.accounts.models import User
from apps.documents.models import Chunk, Document, DocumentVersion


class UserFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = User
        skip_postgeneration_save = True

    username = factory.Sequence(lambda n: f"user{n}")
    email = factory.LazyAttribute(lambda user: f"{user.username}@example.com")
    password = factory.PostGenerationMethodCall("set_password", "a long enough password")


class GroupFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Group

    name = factory.Sequence(lambda n: f"group{n}")


def vector(seed: int) -> list[float]:
    """A deterministic unit vector for tests that do not care about semantics."""
    import math

    raw = [math.sin(seed * 7.1 + index) for index in range(384)]
    norm = math.sqrt(sum(value * value for value in raw))
    return [value / norm for value in raw]


def indexed_document(*, owner: User | None, title: str, texts: list[str], visible_to_tenant: bool = False) -> Document:
    """A document with chunks stored through the real services (ACL computed by them)."""
    from apps.documents.services import ChunkToStore, document_create, document_index_replace, document_version_add
    from apps.text.analyzer import term_frequencies

    document = document_create(
        uploaded_by=owner, title=title, source=f"{title}.txt", visible_to_tenant=visible_to_tenant
    )
    data = "\n\n".join(texts).encode()
    version = document_version_add(document=document, filename=f"{title}.txt", data=data, uploaded_by=owner)
    chunks = [
        ChunkToStore(
            ordinal=index,
            text=text,
            heading_path=[title],
            char_start=0,
            char_end=len(text),
            token_count=len(text.split()),
            embedding=vector(index + document.pk * 100),
            term_frequencies=term_frequencies(text),
        )
        for index, text in enumerate(texts)
    ]
    document_index_replace(
        document=document, version=version, chunks=chunks, embedding_model="test", media_type="text/plain"
    )
    document.refresh_from_db()
    return document


__all__ = ["Chunk", "Document", "DocumentVersion", "GroupFactory", "UserFactory", "indexed_document", "vector"]
