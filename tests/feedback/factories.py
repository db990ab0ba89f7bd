"""Query log rows and feedback for tests that do not need a real answer."""

from __future__ import annotations

from collections.abc import Sequence

from apps.accounts.models import User
from apps.answers.models import QueryLog
from apps.documents.models import Document


def query_log(*, user: User | None, question: str, answer: str = "", documents: Sequence[Document] = ()) -> QueryLog:
    chunk_ids = [chunk_id for document in documents for chunk_id in document.chunks.values_list("pk", flat=True)]
    return QueryLog.objects.create(
        user=user,
        tenant_schema="alpha",
        query=question,
        answer=answer,
        chunk_ids=chunk_ids,
        document_ids=[document.pk for document in documents],
        model="extractive",
        provider="extractive",
        outcome=QueryLog.Outcome.ANSWERED,
        channel="portal",
    )
