"""Look at the audit events an action produced."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any, cast

from django_tenants.utils import schema_context

from apps.accounts.models import User
from apps.audit.models import AuditEvent
from apps.audit.selectors import audit_chain_verify
from tests.documents.factories import UserFactory


class NewEvents(list):
    def actions(self) -> list[str]:
        return [event.action for event in self]


@contextmanager
def new_events(schema: str = "alpha") -> Iterator[NewEvents]:
    """The events written inside the block, oldest first; the chain must still verify after it."""
    with schema_context(schema):
        before = AuditEvent.objects.order_by("-sequence").values_list("sequence", flat=True).first() or 0
    found = NewEvents()
    yield found
    with schema_context(schema):
        found.extend(AuditEvent.objects.filter(sequence__gt=before).order_by("sequence"))
        verdict = audit_chain_verify()
        assert verdict.ok, verdict.describe()


def make_user(**fields: Any) -> User:
    """A saved user (UserFactory, typed for mypy)."""
    return cast(User, UserFactory(**fields))
