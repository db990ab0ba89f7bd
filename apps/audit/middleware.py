"""Who is acting, from where: the request an audit record belongs to, without passing it everywhere.

Extends django-auditlog's middleware (which puts the actor and address on its change log entries)
and keeps the current request in a context variable, so `audit_event_record` called deep inside a
service still records the IP address and user agent. The actor is read lazily: DRF authenticates
API keys and tokens inside the view, after this middleware ran.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar

from auditlog.middleware import AuditlogMiddleware
from django.http import HttpRequest
from django.utils.functional import SimpleLazyObject

_current_request: ContextVar[HttpRequest | None] = ContextVar("audit_current_request", default=None)


def current_request() -> HttpRequest | None:
    return _current_request.get()


@contextmanager
def request_in_context(request: HttpRequest | None) -> Iterator[None]:
    token = _current_request.set(request)
    try:
        yield
    finally:
        _current_request.reset(token)


class AuditContextMiddleware(AuditlogMiddleware):
    """Place after AuthenticationMiddleware."""

    @staticmethod
    def _get_actor(request: HttpRequest) -> object:
        return SimpleLazyObject(lambda: getattr(request, "user", None))

    def __call__(self, request: HttpRequest):
        with request_in_context(request):
            return super().__call__(request)
