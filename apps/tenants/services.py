"""Provision tenants (schema, host name, default groups, first administrator) and change their settings."""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

from django.conf import settings
from django.core.exceptions import PermissionDenied, ValidationError
from django.db import models, transaction
from django_tenants.utils import get_public_schema_name, schema_context

from apps.accounts.models import User
from apps.accounts.services import AdminAccount, default_groups_ensure, tenant_admin_ensure
from apps.audit.services import AuditTarget, audit_event_record
from apps.directory.catalogue import DirectoryUnavailable, PlacementRefused
from apps.directory.services import tenant_place_here, tenant_routes_publish

from .encryption.keys import tenant_data_key_create
from .models import (
    MAX_ANSWER_TOKENS_LIMIT,
    PII_KINDS,
    Domain,
    PiiAtIngestion,
    PiiInAnswers,
    PiiInPrompts,
    Tenant,
    TenantSettings,
)
from .selectors import tenant_settings_get
from .sso_config import client_secret_references, provider_url_problem

SCHEMA_NAME_PATTERN = re.compile(r"^[a-z][a-z0-9_]{1,62}$")


@dataclass(frozen=True)
class ProvisionedTenant:
    tenant: Tenant
    domain: Domain
    admin: AdminAccount
    created: bool


def _validate_schema_name(schema_name: str) -> None:
    if not SCHEMA_NAME_PATTERN.match(schema_name) or schema_name.startswith("pg_"):
        raise ValidationError(
            f"{schema_name!r} is not a valid schema name: use 2-63 lowercase letters, digits or "
            "underscores, starting with a letter (not pg_)."
        )
    if schema_name == get_public_schema_name():
        raise ValidationError("the public schema is not a tenant")


def public_tenant_ensure(*, domain: str) -> Tenant:
    """The public schema's tenant row and host, where platform staff administer tenants."""
    with schema_context(get_public_schema_name()):
        tenant, _ = Tenant.objects.get_or_create(schema_name=get_public_schema_name(), defaults={"name": "Platform"})
        Domain.objects.get_or_create(domain=domain, defaults={"tenant": tenant, "is_primary": True})
    return tenant


def portal_tenant_provision(
    *, schema_name: str, domain: str, admin_email: str, name: str | None = None, reset_password: bool = False
) -> ProvisionedTenant:
    """Create (or complete) a tenant; safe to run again: nothing is duplicated or reset unasked.

    With a directory, the tenant is placed on this process's shard first (refused when another
    shard holds that schema name) and its host names are published as this shard's routes."""
    _validate_schema_name(schema_name)
    with schema_context(get_public_schema_name()):
        existing_domain = Domain.objects.filter(domain=domain).select_related("tenant").first()
        if existing_domain and existing_domain.tenant.schema_name != schema_name:
            raise ValidationError(f"domain {domain!r} already belongs to tenant {existing_domain.tenant.schema_name!r}")
        try:
            tenant_place_here(schema_name=schema_name, hosts=[domain])
        except (PlacementRefused, DirectoryUnavailable) as refused:
            raise ValidationError(str(refused)) from None
        tenant = Tenant.objects.filter(schema_name=schema_name).first()
        created = tenant is None
        if tenant is None:
            # Saving creates and migrates the schema (auto_create_schema).
            tenant = Tenant(schema_name=schema_name, name=name or schema_name)
            tenant.save(verbosity=0)
        with transaction.atomic():
            domain_row, _ = Domain.objects.get_or_create(
                domain=domain, defaults={"tenant": tenant, "is_primary": not tenant.domains.exists()}
            )
        if not tenant.data_keys.filter(retired_at__isnull=True).exists():
            tenant_data_key_create(tenant=tenant)  # its documents are sealed under it from the first upload
        hosts = list(tenant.domains.values_list("domain", flat=True))
    try:
        tenant_routes_publish(schema_name=schema_name, kind="host", values=hosts)
    except (PlacementRefused, DirectoryUnavailable) as refused:
        raise ValidationError(str(refused)) from None
    with schema_context(schema_name):
        default_groups_ensure()
        admin = tenant_admin_ensure(email=admin_email, reset_password=reset_password)
    return ProvisionedTenant(tenant=tenant, domain=domain_row, admin=admin, created=created)


# --- Tenant settings -----------------------------------------------------------------------------

RETENTION_DAYS_MAX = 36_500
SUPERUSER_ONLY_SETTINGS = frozenset(
    {
        "sso_issuer",
        "sso_client_id",
        "sso_client_secret_ref",
        "sso_groups_claim",
        "sso_allowed_email_domains",
        "password_sign_in_enabled",
    }
)
DOMAIN_NAME = re.compile(r"(?=.{1,253}$)([a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?\.)+[a-z]{2,63}")
RATE_LIMIT_CLASS_PATTERN = re.compile(r"^[a-z][a-z0-9_.-]{0,63}$")
_SETTINGS_VALIDATORS: dict[str, Callable[[Any], Any]] = {}


def _setting(name: str) -> Callable[[Callable[[Any], Any]], Callable[[Any], Any]]:
    def register(validator: Callable[[Any], Any]) -> Callable[[Any], Any]:
        _SETTINGS_VALIDATORS[name] = validator
        return validator

    return register


def _is_int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _int_in_range(value: Any, *, low: int, high: int) -> int:
    if not _is_int(value) or not low <= value <= high:
        raise ValidationError(f"must be a whole number from {low} to {high}")
    return int(value)


def _names_from(value: Any, *, allowed: Iterable[str]) -> list[str]:
    allowed = list(allowed)
    if not isinstance(value, list) or not all(isinstance(name, str) for name in value):
        raise ValidationError("must be a list of names")
    unknown = [name for name in value if name not in allowed]
    if unknown:
        raise ValidationError(f"unknown names {unknown}; choose from {allowed}")
    if len(set(value)) != len(value):
        raise ValidationError("names must not repeat")
    return list(value)


@_setting("llm_provider_order")
def _validate_provider_order(value: Any) -> list[str]:
    return _names_from(value, allowed=settings.LLM_PROVIDERS)


@_setting("pii_kinds")
def _validate_pii_kinds(value: Any) -> list[str]:
    return _names_from(value, allowed=PII_KINDS)


def _choice_of(choices: type[models.TextChoices]) -> Callable[[Any], str]:
    def validate(value: Any) -> str:
        if value not in choices.values:
            raise ValidationError(f"choose one of {list(choices.values)}")
        return str(value)

    return validate


_SETTINGS_VALIDATORS["pii_at_ingestion"] = _choice_of(PiiAtIngestion)
_SETTINGS_VALIDATORS["pii_in_prompts"] = _choice_of(PiiInPrompts)
_SETTINGS_VALIDATORS["pii_in_answers"] = _choice_of(PiiInAnswers)


@_setting("daily_token_budget")
def _validate_token_budget(value: Any) -> int:
    return _int_in_range(value, low=0, high=10**12)


@_setting("max_answer_tokens")
def _validate_max_answer_tokens(value: Any) -> int:
    return _int_in_range(value, low=1, high=MAX_ANSWER_TOKENS_LIMIT)


@_setting("pii_redaction_enabled")
def _validate_flag(value: Any) -> bool:
    if not isinstance(value, bool):
        raise ValidationError("must be true or false")
    return value


def _validate_retention(value: Any) -> int:
    return _int_in_range(value, low=1, high=RETENTION_DAYS_MAX)


for _retention_field in (
    "query_retention_days",
    "feedback_retention_days",
    "audit_retention_days",
    "backup_retention_days",
):
    _SETTINGS_VALIDATORS[_retention_field] = _validate_retention


@_setting("rate_limits")
def _validate_rate_limits(value: Any) -> dict[str, dict[str, float]]:
    if not isinstance(value, dict):
        raise ValidationError('must map a route class to {"capacity": int, "refill_per_second": number}')
    cleaned: dict[str, dict[str, float]] = {}
    for route_class, bucket in value.items():
        if not isinstance(route_class, str) or not RATE_LIMIT_CLASS_PATTERN.match(route_class):
            raise ValidationError(f"{route_class!r} is not a route class name (lowercase letters, digits, _ . -)")
        if not isinstance(bucket, dict) or set(bucket) != {"capacity", "refill_per_second"}:
            raise ValidationError(f'{route_class}: give exactly "capacity" and "refill_per_second"')
        capacity, refill = bucket["capacity"], bucket["refill_per_second"]
        if not _is_int(capacity) or capacity < 1:
            raise ValidationError(f"{route_class}: capacity must be a whole number of at least 1")
        if not isinstance(refill, int | float) or isinstance(refill, bool) or not 0 < refill < 1e6:
            raise ValidationError(f"{route_class}: refill_per_second must be a positive number")
        cleaned[route_class] = {"capacity": capacity, "refill_per_second": float(refill)}
    return cleaned


@_setting("sso_display_name")
def _validate_display_name(value: Any) -> str:
    return _short_text(value, limit=100)


@_setting("sso_client_id")
def _validate_client_id(value: Any) -> str:
    return _short_text(value, limit=255)


@_setting("sso_groups_claim")
def _validate_groups_claim(value: Any) -> str:
    text = _short_text(value, limit=100)
    if text and not re.fullmatch(r"[A-Za-z0-9_:./-]+", text):
        raise ValidationError("a claim name: letters, digits and _ : . / - only")
    return text


@_setting("sso_issuer")
def _validate_issuer(value: Any) -> str:
    text = _short_text(value, limit=500)
    if not text:
        return ""
    parts = urlsplit(text)
    problem = provider_url_problem(text) or ("a query or fragment" if parts.query or parts.fragment else "")
    if problem:
        raise ValidationError(f"an issuer URL the server may fetch (https, a public host, no query): {problem}")
    return text.rstrip("/") if parts.path not in ("", "/") else f"{parts.scheme}://{parts.netloc}"


@_setting("sso_client_secret_ref")
def _validate_secret_ref(value: Any) -> str:
    return _short_text(value, limit=255)  # which references a tenant may name: _secret_ref_of_tenant


@_setting("sso_allowed_email_domains")
def _validate_email_domains(value: Any) -> list[str]:
    if not isinstance(value, list) or not all(isinstance(item, str) for item in value):
        raise ValidationError("must be a list of domain names")
    domains = [item.strip().lower().lstrip("@") for item in value]
    bad = [item for item in domains if not DOMAIN_NAME.fullmatch(item)]
    if bad:
        raise ValidationError(f"not domain names: {bad}")
    return sorted(set(domains))


_SETTINGS_VALIDATORS["password_sign_in_enabled"] = _validate_flag


def _short_text(value: Any, *, limit: int) -> str:
    if not isinstance(value, str):
        raise ValidationError("must be text")
    text = value.strip()
    if len(text) > limit or any(ord(char) < 32 for char in text):
        raise ValidationError(f"at most {limit} printable characters")
    return text


def _validated_settings(fields: dict[str, Any]) -> dict[str, Any]:
    errors: dict[str, list[str]] = {}
    cleaned: dict[str, Any] = {}
    for name, value in fields.items():
        validator = _SETTINGS_VALIDATORS.get(name)
        if validator is None:
            errors[name] = ["is not a tenant setting"]
            continue
        try:
            cleaned[name] = validator(value)
        except ValidationError as error:
            errors[name] = error.messages
    if errors:
        raise ValidationError(errors)
    return cleaned


def _identity_fields_allowed(actor: Any, current: TenantSettings, cleaned: dict[str, Any]) -> None:
    """Who signs people in is a superuser's choice (or the operator's: an actor label). The issuer
    decides group memberships and which account a sign-in lands in, as SCIM does (seventh attack
    pass: a tenant admin pointed the tenant at a provider of his own and joined any group)."""
    if not isinstance(actor, User) or actor.is_superuser:
        return
    touched = sorted(
        name for name in SUPERUSER_ONLY_SETTINGS if name in cleaned and cleaned[name] != getattr(current, name)
    )
    if touched:
        raise PermissionDenied(f"only superusers change single sign-on: {', '.join(touched)}")


def _secret_ref_of_tenant(schema_name: str, current: TenantSettings, cleaned: dict[str, Any]) -> None:
    """A client secret is referenced, never stored, and only the tenant's own: the secret goes to
    the issuer the tenant chose, so a reference to anything else would hand it to them (sixth attack
    pass: another tenant's secret and the development provider's signing key). A new issuer without
    a reference in the same change drops the old one: the secret was the old issuer's."""
    reference = cleaned.get("sso_client_secret_ref")
    if reference is None:
        if "sso_issuer" in cleaned and cleaned["sso_issuer"] != current.sso_issuer:
            cleaned["sso_client_secret_ref"] = ""
        return
    allowed = client_secret_references(schema_name)
    if reference and reference not in allowed:
        raise ValidationError(
            {
                "sso_client_secret_ref": [
                    f"a reference to this tenant's secret, never the secret: one of {list(allowed)}"
                ]
            }
        )


def _sign_in_left_open(current: TenantSettings, cleaned: dict[str, Any]) -> None:
    """Passwords may be switched off only while single sign-on is set up: nobody could sign in."""
    final = {
        name: cleaned.get(name, getattr(current, name))
        for name in ("password_sign_in_enabled", "sso_issuer", "sso_client_id")
    }
    if not final["password_sign_in_enabled"] and not (final["sso_issuer"] and final["sso_client_id"]):
        raise ValidationError(
            {
                "password_sign_in_enabled": [
                    "set up single sign-on (sso_issuer, sso_client_id) before switching passwords off"
                ]
            }
        )


def tenant_settings_update(*, schema_name: str, actor: Any, **fields: Any) -> TenantSettings:
    """Validate and apply setting changes, audited in the tenant's own trail in the same transaction.

    Raises ValidationError (message_dict: field -> messages) for unknown fields or bad values and
    changes nothing then; unknown or inactive tenants raise TenantContextRequired.
    """
    cleaned = _validated_settings(fields)
    current = tenant_settings_get(schema_name=schema_name)
    _identity_fields_allowed(actor, current, cleaned)
    _secret_ref_of_tenant(schema_name, current, cleaned)
    _sign_in_left_open(current, cleaned)
    with transaction.atomic():
        row = TenantSettings.objects.select_for_update().select_related("tenant").get(pk=current.pk)
        changed = {name: value for name, value in cleaned.items() if getattr(row, name) != value}
        if not changed:
            return row
        before = {name: getattr(row, name) for name in changed}
        for name, value in changed.items():
            setattr(row, name, value)
        row.save(update_fields=[*changed, "updated_at"])
        with schema_context(schema_name):
            audit_event_record(
                action="settings.update",
                actor=actor,
                target=AuditTarget(type="tenants.tenantsettings", id=str(row.pk), label=f"settings of {schema_name}"),
                details={"changed": {name: {"from": before[name], "to": changed[name]} for name in changed}},
            )
    return row  # the save's signal made later reads in this request see the change (apps.core.process_cache)
