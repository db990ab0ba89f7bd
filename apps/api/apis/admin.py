"""The control plane: API keys and tenant settings. Tenant administrators only, stricter rate
limits, and every change audited (by the services, in the change's own transaction)."""

from __future__ import annotations

from django.core.exceptions import PermissionDenied as DjangoPermissionDenied
from django.db import connection
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import serializers, status
from rest_framework.exceptions import PermissionDenied, ValidationError
from rest_framework.response import Response

from apps.accounts.models import User
from apps.tenants.models import PII_KINDS, TENANT_SETTINGS_EDITABLE_FIELDS, TenantSettings
from apps.tenants.rate_limits import tenant_quota
from apps.tenants.selectors import tenant_settings_get
from apps.tenants.services import tenant_settings_update

from ..models import ApiKey
from ..selectors import api_key_for_tenant, api_keys_for_tenant
from ..services import CreatorLimits, api_key_create, api_key_revoke
from .base import ApiListView, ApiView, validated
from .schema import errors


class AdminView(ApiView):
    route_class = required_scope = "admin"


class BucketInput(serializers.Serializer):
    capacity = serializers.IntegerField(min_value=1, max_value=1_000_000)
    refill_per_second = serializers.FloatField(min_value=0.001, max_value=100_000)


class ApiKeyOutput(serializers.ModelSerializer):
    rate_limits = serializers.DictField(child=BucketInput())

    class Meta:
        model = ApiKey
        fields = [
            "id",
            "name",
            "prefix",
            "scopes",
            "user_id",
            "created_by_id",
            "rate_limits",
            "created_at",
            "expires_at",
            "revoked_at",
            "last_used_at",
        ]


class CreatedApiKeyOutput(ApiKeyOutput):
    key = serializers.CharField(help_text="the full key; shown only in this response")

    class Meta(ApiKeyOutput.Meta):
        fields = [*ApiKeyOutput.Meta.fields, "key"]


class ApiKeyListApi(ApiListView):
    route_class = required_scope = "admin"

    class ApiKeyCreateInput(serializers.Serializer):
        name = serializers.CharField(max_length=200)
        scopes = serializers.ListField(child=serializers.ChoiceField(choices=ApiKey.Scope.choices), allow_empty=False)
        expires_at = serializers.DateTimeField(required=False, allow_null=True, default=None)
        username = serializers.CharField(
            max_length=150, required=False, help_text="the user the key acts as (default: you)"
        )
        rate_limits = serializers.DictField(
            child=BucketInput(), required=False, help_text="route class (query, ingest, admin) -> this key's quota"
        )

        def validate_rate_limits(self, value):
            unknown = set(value) - set(ROUTE_CLASSES)
            if unknown:
                raise serializers.ValidationError(f"unknown route classes: {sorted(unknown)}")
            return value

    @extend_schema(
        operation_id="admin_api_keys_list",
        parameters=[OpenApiParameter("page", int), OpenApiParameter("page_size", int)],
        responses={200: ApiKeyOutput(many=True), **errors(404, 503)},
    )
    def get(self, request):
        page = self.paginate_queryset(api_keys_for_tenant(tenant=connection.tenant))  # type: ignore[attr-defined]
        return self.get_paginated_response(ApiKeyOutput(page, many=True).data)

    @extend_schema(
        operation_id="admin_api_keys_create",
        request=ApiKeyCreateInput,
        responses={201: CreatedApiKeyOutput, **errors(400, 503)},
    )
    def post(self, request):
        data = validated(self.ApiKeyCreateInput, request.data)
        user = request.user
        if data.get("username"):
            user = User.objects.filter(username=data["username"]).first()
            if user is None:
                raise ValidationError({"username": ["no such user in this tenant"]})
        try:
            created = api_key_create(
                tenant=connection.tenant,  # type: ignore[attr-defined]
                user=user,
                created_by=_creator(request, user),
                name=data["name"],
                scopes=data["scopes"],
                expires_at=data["expires_at"],
                rate_limits=data.get("rate_limits"),
                creator_limits=CreatorLimits(
                    scopes=request.auth.scopes,
                    expires_at=request.auth.expires_at,
                    rate_limits=request.auth.rate_limits,
                    quota_ceiling=_quota_ceiling(),
                ),
                request=request,
            )
        except DjangoPermissionDenied as refused:
            # The delegation rule's reason names no data, and tells the integrator what to do instead.
            raise PermissionDenied(str(refused)) from None
        body = {**ApiKeyOutput(created.key).data, "key": created.secret}
        return Response(body, status=status.HTTP_201_CREATED)


# The route classes a key's own quotas may name (settings.API_RATE_LIMITS has one bucket pair each).
ROUTE_CLASSES = ("query", "ingest", "admin")


def _quota_ceiling() -> dict[str, dict]:
    """No key's own quota may exceed its tenant's whole bucket. Above the defaults is the tenant
    administrator's call (a busy integration needs more than a person); the tenant bucket, set by
    the platform, bounds what all keys together spend."""
    return {route_class: tenant_quota(route_class) for route_class in ROUTE_CLASSES}


def _creator(request, user: User) -> User:
    """Who a new key is made by: the caller, or, when the caller is a key acting for someone else,
    the person who made that key (a key minted by a delegated key lapses with it). Such a key mints
    keys for its own user only: the person behind it may act as others, the integration may not."""
    delegated_by = request.auth.delegated_by
    if delegated_by is None:
        return request.user
    if user.pk != request.user.pk:
        raise PermissionDenied("A key acting for a service account creates keys for that account only.")
    creator = User.objects.filter(pk=delegated_by, is_active=True).first()
    if creator is None:
        raise PermissionDenied("The user who created this key is no longer active.")
    return creator


class ApiKeyApi(AdminView):
    @extend_schema(operation_id="admin_api_keys_retrieve", responses={200: ApiKeyOutput, **errors(404, 503)})
    def get(self, request, key_id):
        return Response(ApiKeyOutput(api_key_for_tenant(tenant=connection.tenant, key_id=key_id)).data)  # type: ignore[attr-defined]

    @extend_schema(
        operation_id="admin_api_keys_revoke",
        description="Revoke the key at once. The row stays for the audit trail.",
        responses={200: ApiKeyOutput, **errors(404, 503)},
    )
    def delete(self, request, key_id):
        key = api_key_for_tenant(tenant=connection.tenant, key_id=key_id)  # type: ignore[attr-defined]
        return Response(ApiKeyOutput(api_key_revoke(key=key, actor=request.user, request=request)).data)


class TenantSettingsOutput(serializers.ModelSerializer):
    llm_provider_order = serializers.ListField(child=serializers.CharField())
    pii_kinds = serializers.ListField(child=serializers.ChoiceField(choices=PII_KINDS))
    rate_limits = serializers.DictField(child=BucketInput())
    sso_allowed_email_domains = serializers.ListField(child=serializers.CharField())

    class Meta:
        model = TenantSettings
        fields = [*TENANT_SETTINGS_EDITABLE_FIELDS, "updated_at"]


class TenantSettingsPatch(serializers.Serializer):
    """Types only; tenant_settings_update checks the values (allowed providers, ranges)."""

    llm_provider_order = serializers.ListField(child=serializers.CharField(), required=False)
    daily_token_budget = serializers.IntegerField(required=False)
    max_answer_tokens = serializers.IntegerField(required=False)
    pii_redaction_enabled = serializers.BooleanField(required=False)
    pii_kinds = serializers.ListField(child=serializers.CharField(), required=False)
    pii_at_ingestion = serializers.CharField(required=False)
    pii_in_prompts = serializers.CharField(required=False)
    pii_in_answers = serializers.CharField(required=False)
    query_retention_days = serializers.IntegerField(required=False)
    feedback_retention_days = serializers.IntegerField(required=False)
    audit_retention_days = serializers.IntegerField(required=False)
    backup_retention_days = serializers.IntegerField(required=False)
    rate_limits = serializers.DictField(child=BucketInput(), required=False)
    sso_display_name = serializers.CharField(required=False, allow_blank=True)
    sso_issuer = serializers.CharField(required=False, allow_blank=True)
    sso_client_id = serializers.CharField(required=False, allow_blank=True)
    sso_client_secret_ref = serializers.CharField(required=False, allow_blank=True)
    sso_allowed_email_domains = serializers.ListField(child=serializers.CharField(), required=False)
    sso_groups_claim = serializers.CharField(required=False, allow_blank=True)
    password_sign_in_enabled = serializers.BooleanField(required=False)

    def to_internal_value(self, data):
        unknown = set(data) - set(self.fields) if isinstance(data, dict) else set()
        if unknown:
            raise ValidationError({name: ["is not a tenant setting"] for name in sorted(unknown)})
        return super().to_internal_value(data)


class TenantSettingsApi(AdminView):
    @extend_schema(operation_id="admin_settings_retrieve", responses={200: TenantSettingsOutput, **errors(503)})
    def get(self, request):
        row = tenant_settings_get(schema_name=connection.schema_name)  # type: ignore[attr-defined]
        return Response(TenantSettingsOutput(row).data)

    @extend_schema(
        operation_id="admin_settings_update",
        request=TenantSettingsPatch,
        responses={200: TenantSettingsOutput, **errors(400, 503)},
    )
    def patch(self, request):
        changes = validated(TenantSettingsPatch, request.data)
        row = tenant_settings_update(
            schema_name=connection.schema_name,  # type: ignore[attr-defined]
            actor=request.user,
            **changes,
        )
        return Response(TenantSettingsOutput(row).data)
