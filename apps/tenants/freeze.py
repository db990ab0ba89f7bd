"""A tenant whose writes are frozen while it moves to another shard: reads go on, writes wait.

While `Tenant.writes_frozen_at` is set, the tenant's data must not change, because its copy on the
other shard is being made and verified. Every way in that writes refuses or waits:

- HTTP requests with an unsafe method (a question too: it writes the query log) answer 503 with
  Retry-After, by host (`TenantWritesFrozenMiddleware`) or by credential (apps.api.authentication);
- the Ask socket answers a question with a `tenant_moving` error to try again;
- ingestion and graph tasks put themselves back on the queue for later, failing nothing;
- scheduled per-tenant work skips the tenant until its next round.
"""

from __future__ import annotations

from typing import Literal

from django.http import HttpRequest, HttpResponse, JsonResponse
from django.utils import timezone
from django.utils.translation import gettext as _

from apps.audit.services import audit_event_record

from .models import Tenant

FROZEN_RETRY_AFTER_SECONDS = 15
SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})


def tenant_writes_frozen(schema_name: str) -> bool:
    """Read afresh from the database (tasks, sockets): is this tenant being moved?"""
    return Tenant.objects.filter(schema_name=schema_name, writes_frozen_at__isnull=False).exists()


def tenant_write_state(schema_name: str) -> Literal["writable", "frozen", "absent"]:
    """What background work for the tenant may do on this shard: run, wait, or nothing (the tenant
    is not here: never created, deleted, or moved to another shard, which resumes its work)."""
    row = Tenant.objects.filter(schema_name=schema_name).values("is_active", "writes_frozen_at").first()
    if row is None or (not row["is_active"] and row["writes_frozen_at"] is None):
        return "absent"
    return "frozen" if row["writes_frozen_at"] is not None else "writable"


def tenant_writes_freeze(*, schema_name: str, actor: str) -> Tenant:
    """Freeze a tenant's writes on this shard (again: nothing changes); audited in the public schema."""
    tenant = Tenant.objects.get(schema_name=schema_name)
    if tenant.writes_frozen_at is None:
        tenant.writes_frozen_at = timezone.now()
        tenant.save(update_fields=["writes_frozen_at"])
        audit_event_record(action="tenant.writes_freeze", actor=actor, target=tenant)
    return tenant


def tenant_writes_thaw(*, schema_name: str, actor: str) -> Tenant:
    tenant = Tenant.objects.get(schema_name=schema_name)
    if tenant.writes_frozen_at is not None:
        tenant.writes_frozen_at = None
        tenant.save(update_fields=["writes_frozen_at"])
        audit_event_record(action="tenant.writes_thaw", actor=actor, target=tenant)
    return tenant


def frozen_message() -> str:
    return _("This workspace is being moved to another server. Nothing was changed; try again in a minute.")


def frozen_response(request: HttpRequest) -> HttpResponse:
    if request.path.startswith(("/api/", "/scim/")):
        body = {"error": {"code": "tenant_moving", "message": frozen_message(), "details": {}}}
        response: HttpResponse = JsonResponse(body, status=503)
    else:
        response = HttpResponse(frozen_message(), status=503, content_type="text/plain; charset=utf-8")
    response["Retry-After"] = str(FROZEN_RETRY_AFTER_SECONDS)
    response["Cache-Control"] = "no-store"
    return response


class TenantWritesFrozenMiddleware:
    """After the tenant is known by host: unsafe requests to a frozen tenant answer 503."""

    def __init__(self, get_response) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        tenant = getattr(request, "tenant", None)
        if request.method not in SAFE_METHODS and getattr(tenant, "writes_frozen_at", None) is not None:
            return frozen_response(request)
        return self.get_response(request)
