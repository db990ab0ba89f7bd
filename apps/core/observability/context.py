"""The request id of the work in progress, carried across threads, streams and Celery tasks.

A context variable, not a thread-local: asgiref copies it into sync middleware threads, and the
retrieval runner copies the caller's context into its leg threads.
"""

from __future__ import annotations

import re
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar

REQUEST_ID_HEADER = "X-Request-ID"
# Celery message header that carries the id into tasks.
TASK_HEADER = "portal_request_id"

_request_id: ContextVar[str] = ContextVar("portal_request_id", default="")
# Accept a caller's id only if it is short and harmless in logs and headers.
_VALID_REQUEST_ID = re.compile(r"^[A-Za-z0-9._:-]{1,128}$")


def current_request_id() -> str:
    return _request_id.get()


def new_request_id() -> str:
    return uuid.uuid4().hex


def accepted_request_id(candidate: str | None) -> str:
    """The caller's id when it is well-formed (a proxy or client set it), else a fresh one."""
    if candidate and _VALID_REQUEST_ID.match(candidate):
        return candidate
    return new_request_id()


def request_id_set(request_id: str) -> None:
    """Set for the rest of the current context (an ASGI request's task, a Celery task)."""
    _request_id.set(request_id)


@contextmanager
def request_id_bound(request_id: str) -> Iterator[str]:
    token = _request_id.set(request_id)
    try:
        yield request_id
    finally:
        _request_id.reset(token)
