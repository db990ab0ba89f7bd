"""Why a document was refused. The reason is shown to end users as the failed job's reason."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from apps.core.errors import PortalError


class DocumentRejected(PortalError):
    """Base for every refusal. `reason` is plain language and never quotes the file's bytes."""

    code = "document_rejected"
    default_reason = "The document could not be processed."

    def __init__(self, reason: str | None = None) -> None:
        self.reason = reason or self.default_reason
        super().__init__(self.reason)


class EmptyDocument(DocumentRejected):
    code = "document_empty"
    default_reason = "The document contains no text to index."


class UnsupportedDocument(DocumentRejected):
    code = "document_unsupported"
    default_reason = (
        "This file type is not supported. Upload plain text, Markdown, HTML, PDF, Word (.docx), CSV or JSON."
    )


class CorruptDocument(DocumentRejected):
    code = "document_corrupt"
    default_reason = "The file is damaged or incomplete and could not be read."


class EncryptedDocument(DocumentRejected):
    code = "document_encrypted"
    default_reason = "The document is password-protected. Remove the password and upload it again."


class UnsafeDocument(DocumentRejected):
    code = "document_unsafe"
    default_reason = "The file was refused because its structure looks unsafe to open."


class DocumentTooLarge(DocumentRejected):
    code = "document_too_large"
    default_reason = "The document is too large to index."


@contextmanager
def failures_read_as_corrupt(*, reason: str) -> Iterator[None]:
    """Turn whatever a third-party parser raises on hostile input into a CorruptDocument.

    pypdf and python-docx raise dozens of exception types (and RecursionError) on malformed
    files; the user only needs to know the file could not be read.
    """
    try:
        yield
    except DocumentRejected:
        raise
    except Exception as error:
        raise CorruptDocument(reason) from error
