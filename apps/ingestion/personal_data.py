"""The tenant's PII policy at ingestion: index personal data as is, mask it, or leave out what holds it.

Applied to the parsed document, before chunking: a value is never cut in two by a chunk boundary
(where neither half would be recognised), and everything built from the chunks (embeddings,
keyword postings, graph entities, prompts) inherits the choice. The uploaded file itself is kept
as uploaded, sealed under the tenant's key (apps.tenants.encryption), so that a later change of
policy can re-process it (`manage.py reprocess_documents`).
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, replace

from apps.core.pii import PII_KINDS, pii_redact, pii_spans
from apps.tenants.models import PiiAtIngestion
from apps.tenants.selectors import tenant_settings_get

from .parsing import ParsedDocument


@dataclass(frozen=True)
class IngestionPiiPolicy:
    choice: str = PiiAtIngestion.KEEP
    kinds: tuple[str, ...] = PII_KINDS

    @classmethod
    def of_tenant(cls, schema_name: str) -> IngestionPiiPolicy:
        row = tenant_settings_get(schema_name=schema_name)
        return cls(choice=row.pii_at_ingestion, kinds=tuple(kind for kind in row.pii_kinds if kind in PII_KINDS))


def pii_policy_name(name: str, policy: IngestionPiiPolicy) -> str:
    """A document's title or file name as the policy lets others see it (masked unless `keep`)."""
    if policy.choice == PiiAtIngestion.KEEP or not policy.kinds:
        return name
    return pii_redact(name, kinds=policy.kinds).text


def pii_policy_applied(parsed: ParsedDocument, policy: IngestionPiiPolicy) -> ParsedDocument:
    """The document as the policy lets it be indexed; what was done is counted in its metadata."""
    if policy.choice == PiiAtIngestion.KEEP or not policy.kinds:
        return parsed
    found: Counter[str] = Counter()
    blocks = []
    for block in parsed.blocks:
        spans = pii_spans(block.text, kinds=policy.kinds)
        found.update(span.kind for span in spans)
        if not spans:
            blocks.append(block)
        elif policy.choice == PiiAtIngestion.MASK:
            blocks.append(replace(block, text=pii_redact(block.text, kinds=policy.kinds).text))
        # DROP: the paragraph, row or list item holding personal data is left out.
    title = pii_policy_name(parsed.title, policy) if parsed.title else parsed.title
    metadata = {**parsed.metadata, "pii": {"policy": policy.choice, "found": dict(found)}}
    if policy.choice == PiiAtIngestion.DROP:
        metadata["pii"]["blocks_left_out"] = len(parsed.blocks) - len(blocks)
    return replace(parsed, title=title, blocks=blocks, metadata=metadata)
