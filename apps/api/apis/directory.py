"""Control plane for provisioning: the SCIM tokens a tenant's identity provider presents.
Tenant administrators only; every change audited by the services."""

from __future__ import annotations

from drf_spectacular.utils import extend_schema
from rest_framework import serializers, status
from rest_framework.response import Response

from apps.accounts.models import ScimToken

from ..scim.tokens import scim_token_create, scim_token_revoke, scim_tokens_all
from .admin import AdminView
from .base import validated
from .schema import errors


class ScimTokenOutput(serializers.ModelSerializer):
    class Meta:
        model = ScimToken
        fields = ["id", "name", "prefix", "created_by_id", "created_at", "revoked_at", "last_used_at"]


class CreatedScimTokenOutput(ScimTokenOutput):
    token = serializers.CharField(help_text="the bearer token for the identity provider; shown only in this response")
    scim_base_url = serializers.CharField()

    class Meta(ScimTokenOutput.Meta):
        fields = [*ScimTokenOutput.Meta.fields, "token", "scim_base_url"]


class ScimTokenCreateInput(serializers.Serializer):
    name = serializers.CharField(max_length=200, help_text='e.g. "Okta" or "Entra ID"')


class ScimTokenListApi(AdminView):
    @extend_schema(operation_id="admin_scim_tokens_list", responses={200: ScimTokenOutput(many=True), **errors(503)})
    def get(self, request):
        return Response(ScimTokenOutput(scim_tokens_all(), many=True).data)

    @extend_schema(
        operation_id="admin_scim_tokens_create",
        request=ScimTokenCreateInput,
        responses={201: CreatedScimTokenOutput, **errors(400, 503)},
    )
    def post(self, request):
        data = validated(ScimTokenCreateInput, request.data)
        token, secret = scim_token_create(name=data["name"], actor=request.user)
        body = {
            **ScimTokenOutput(token).data,
            "token": secret,
            "scim_base_url": request.build_absolute_uri("/scim/v2/"),
        }
        return Response(body, status=status.HTTP_201_CREATED)


class ScimTokenApi(AdminView):
    @extend_schema(operation_id="admin_scim_tokens_revoke", responses={200: ScimTokenOutput, **errors(404, 503)})
    def delete(self, request, token_id: int):
        token = ScimToken.objects.get(pk=token_id)  # DoesNotExist is a 404 (apps/api/errors.py)
        return Response(ScimTokenOutput(scim_token_revoke(token=token, actor=request.user)).data)
