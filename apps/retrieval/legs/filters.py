"""Optional metadata filters shared by the SQL legs (document media type, document ids)."""

from __future__ import annotations

from typing import Any


def document_filter_sql(filters: dict, *, chunk_alias: str) -> tuple[str, dict[str, Any]]:
    """Extra WHERE clauses on the chunk's document; unknown filter names are ignored upstream."""
    clauses: list[str] = []
    params: dict[str, Any] = {}
    if filters.get("document_ids"):
        clauses.append(f"{chunk_alias}.document_id = ANY(%(filter_document_ids)s)")
        params["filter_document_ids"] = [int(value) for value in filters["document_ids"]]
    if filters.get("media_types"):
        clauses.append(
            f"{chunk_alias}.document_id IN "  # noqa: S608 - the alias is ours; values are parameters
            "(SELECT id FROM documents_document WHERE media_type = ANY(%(filter_media)s))"
        )
        params["filter_media"] = [str(value) for value in filters["media_types"]]
    return "".join(f" AND {clause}" for clause in clauses), params
