"""The append-only, hash-chained audit trail of security-relevant actions (one chain per schema).

Each event stores the hash of the previous event and the sha256 of that hash plus its own canonical
content (apps/audit/chain.py), so changing, deleting or reordering a row breaks the chain where it
happened. A PostgreSQL trigger (migration 0002) refuses UPDATE, DELETE and TRUNCATE; only the
retention job may delete, and only whole expired segments that it archived first.

Actors and user targets are stored as pseudonymous ids ("user:12"), never names or e-mail
addresses, so erasing a person never requires rewriting the chain (docs/compliance.md).
"""

from __future__ import annotations

from typing import Any, NoReturn

from django.db import models

GENESIS_HASH = "0" * 64


class AuditEventImmutable(Exception):
    """Audit events are never changed or deleted through the ORM."""


class AuditEventQuerySet(models.QuerySet):
    def update(self, **kwargs: Any) -> NoReturn:
        raise AuditEventImmutable("audit events are append-only")

    def delete(self) -> NoReturn:
        raise AuditEventImmutable("audit events are append-only; retention archives and purges them")


class AuditEvent(models.Model):
    class Outcome(models.TextChoices):
        SUCCESS = "success", "Success"
        FAILURE = "failure", "Failure"

    sequence = models.BigIntegerField(unique=True, help_text="position in this schema's chain, from 1")
    created_at = models.DateTimeField(db_index=True)
    actor_id = models.BigIntegerField(null=True, blank=True, db_index=True, help_text="user id, if a user acted")
    actor_label = models.CharField(max_length=200, blank=True, help_text='pseudonymous: "user:12", "system:retention"')
    tenant_schema = models.CharField(max_length=63)
    action = models.CharField(max_length=100, db_index=True)
    outcome = models.CharField(max_length=20, choices=Outcome.choices, default=Outcome.SUCCESS, db_index=True)
    target_type = models.CharField(max_length=100, blank=True)
    target_id = models.CharField(max_length=100, blank=True)
    target_label = models.CharField(max_length=300, blank=True)
    ip = models.CharField(max_length=45, blank=True)
    user_agent = models.CharField(max_length=500, blank=True)
    details = models.JSONField(default=dict, blank=True)
    prev_hash = models.CharField(max_length=64)
    hash = models.CharField(max_length=64, unique=True)

    objects = AuditEventQuerySet.as_manager()

    class Meta:
        ordering = ["-sequence"]
        indexes = [models.Index(fields=["actor_id", "-created_at"], name="auditevent_actor_recent")]

    def __str__(self) -> str:
        return f"#{self.sequence} {self.action}"

    def save(self, *args: Any, **kwargs: Any) -> None:
        if not self._state.adding:
            raise AuditEventImmutable("audit events are append-only")
        super().save(*args, **kwargs)

    def delete(self, *args: Any, **kwargs: Any) -> NoReturn:
        raise AuditEventImmutable("audit events are append-only; retention archives and purges them")


class AuditChainHead(models.Model):
    """One row per schema: the last event's sequence and hash.

    Writers lock it (SELECT ... FOR UPDATE) so concurrent events never fork the chain, and the
    verifier compares it with the last row, so deleting events at the end is detected too.
    """

    sequence = models.BigIntegerField(default=0)
    hash = models.CharField(max_length=64, default=GENESIS_HASH)
    updated_at = models.DateTimeField(auto_now=True)

    def __str__(self) -> str:
        return f"audit chain head #{self.sequence}"
