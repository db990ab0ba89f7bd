"""What of an uploaded file becomes chunks: parsed within the limits, chunked, text filters
applied, and bounded so that one file cannot flood its tenant's index or a worker's memory (what
was left out is reported on the job)."""

from __future__ import annotations

import re
from dataclasses import replace

from django.conf import settings
from django.utils.module_loading import import_string

from apps.integrations.embeddings.factory import embedder

from .chunking import ChunkDraft, chunk_document
from .parsing import BLOCK_SEPARATOR, ParsedDocument, ParseLimits, parse_document


def parsed_upload(*, data: bytes, filename: str, declared_media_type: str = "") -> ParsedDocument:
    """The file as ingestion parses it, within the configured limits (raises DocumentRejected)."""
    return parse_document(
        data=data,
        filename=filename,
        declared_media_type=declared_media_type or None,
        limits=ParseLimits.from_settings(),
    )


def chunk_drafts(parsed: ParsedDocument) -> list[ChunkDraft]:
    """The chunks ingestion embeds and stores for a parsed document, text filters applied."""
    counter = embedder()
    drafts = chunk_document(
        document=within_text_limit(parsed),
        max_tokens=settings.CHUNK_MAX_TOKENS,
        overlap_tokens=settings.CHUNK_OVERLAP_TOKENS,
        count_tokens=counter.count_tokens,
        token_spans=getattr(counter, "token_spans", None),  # optional: only local tokenizers have offsets
    )
    return distinct_and_capped(_apply_text_filters(drafts), metadata=parsed.metadata)


def _apply_text_filters(drafts: list[ChunkDraft]) -> list[ChunkDraft]:
    """The callables INGESTION_TEXT_FILTERS names (none by default, none ship), applied to every chunk
    before anything is embedded or stored; chunks they leave blank are dropped."""
    for dotted_path in settings.INGESTION_TEXT_FILTERS:
        text_filter = import_string(dotted_path)
        drafts = [text_filter(draft) for draft in drafts]
    return [draft for draft in drafts if draft.text.strip()]


def within_text_limit(parsed: ParsedDocument) -> ParsedDocument:
    """At most INGESTION_MAX_TEXT_CHARS of a document's text are chunked (the rest is reported on
    the job): a 48 MB text file took a worker past 2 GB and three minutes to chunk, for passages the
    chunk cap would then have left out anyway. The kept text is a prefix, so chunk offsets still
    point into the document's text."""
    limit = settings.INGESTION_MAX_TEXT_CHARS
    total = sum(len(block.text) + len(BLOCK_SEPARATOR) for block in parsed.blocks)
    if total <= limit:
        return parsed
    kept, used = [], 0
    for block in parsed.blocks:
        room = limit - used
        if room <= 0:
            break
        if len(block.text) > room:
            cut = block.text.rfind(" ", 0, room)
            block = replace(block, text=block.text[: cut if cut > room // 2 else room])
        kept.append(block)
        used += len(block.text) + len(BLOCK_SEPARATOR)
    parsed.metadata.update(truncated=True, text_chars=total, text_chars_kept=used)
    return replace(parsed, blocks=kept)


_NOT_WORDS = re.compile(r"[\W_]+")


def distinct_and_capped(drafts: list[ChunkDraft], *, metadata: dict) -> list[ChunkDraft]:
    """A document may not flood its tenant's index: passages that repeat an earlier one of the same
    document (same words, whatever the case, spacing and punctuation) are dropped, and at most
    INGESTION_MAX_CHUNKS_PER_DOCUMENT are kept. One 10 MB line of a repeated sentence became 15,535
    chunks of two distinct vectors, and the HNSW index then returned only those to every question.
    What was left out is recorded in the parse metadata (and reported on the job)."""
    seen: set[str] = set()
    distinct = []
    for draft in drafts:
        key = _NOT_WORDS.sub(" ", draft.body.casefold()).strip()
        if key not in seen:
            seen.add(key)
            distinct.append(draft)
    if len(distinct) < len(drafts):
        metadata["repeated_passages"] = len(drafts) - len(distinct)
    cap = settings.INGESTION_MAX_CHUNKS_PER_DOCUMENT
    if len(distinct) > cap:
        metadata.update(truncated=True, passage_count=len(distinct), passages_kept=cap)
        distinct = distinct[:cap]
    return [replace(draft, ordinal=ordinal) for ordinal, draft in enumerate(distinct)]


def truncation_warning(parsed: ParsedDocument) -> dict[str, str]:
    """A success that indexed only part of the file says so on the job, where the uploader sees it
    (the document's parse metadata keeps `truncated` too)."""
    metadata = parsed.metadata
    if not metadata.get("truncated"):
        return {}
    if "text_chars_kept" in metadata:
        kept, unit = metadata["text_chars_kept"], f"characters of {metadata['text_chars']:,}"
    elif "passages_kept" in metadata:
        kept, unit = metadata["passages_kept"], f"passages of {metadata['passage_count']:,}"
    else:
        unit = "rows" if "row_count" in metadata else "values"
        kept = metadata.get("row_count", metadata.get("value_count", 0))
    reason = f"Indexed with a warning: only the first {kept:,} {unit} were indexed; the rest of the file was left out."
    return {"code": "truncated", "reason": reason}
