"""OpenAPI pieces every view uses: the error envelope, and how our authentication shows up."""

from __future__ import annotations

from drf_spectacular.extensions import OpenApiAuthenticationExtension
from drf_spectacular.utils import OpenApiResponse
from rest_framework import serializers

from ..authentication import API_KEY_HEADER


class ErrorDetailSerializer(serializers.Serializer):
    code = serializers.CharField(help_text="machine-readable, e.g. invalid, not_found, rate_limited")
    message = serializers.CharField(help_text="for people")
    details = serializers.JSONField(help_text="field errors for `invalid`, retry_after for `rate_limited`")


class ErrorSerializer(serializers.Serializer):
    error = ErrorDetailSerializer()


ERROR_DESCRIPTIONS = {
    400: "Invalid input (details name the fields)",
    401: "No credential, or an invalid, expired or revoked one",
    403: "The credential lacks the scope or role, or belongs to another tenant",
    404: "Not found, or not visible to you",
    405: "Method not allowed",
    413: "A file is larger than the upload limit",
    415: "Unsupported content type",
    429: "Rate limited; see Retry-After and RateLimit-* headers",
    503: "Unavailable for now (database unreachable, or rate limits / answer-stream slots cannot be counted); "
    "retry after Retry-After seconds",
    504: "The answer timed out",
}


def errors(*statuses: int) -> dict[int, OpenApiResponse]:
    """Error responses for extend_schema; 401, 403, 405, 415, 429 and 503 apply to every operation."""
    every = {401, 403, 405, 415, 429, 503}
    return {
        status: OpenApiResponse(ErrorSerializer, description=ERROR_DESCRIPTIONS[status])
        for status in sorted(every | set(statuses))
    }


class ApiKeyScheme(OpenApiAuthenticationExtension):
    target_class = "apps.api.authentication.ApiKeyAuthentication"
    name = "apiKey"

    def get_security_definition(self, auto_schema):
        return {"type": "apiKey", "in": "header", "name": API_KEY_HEADER}


class PortalSessionScheme(OpenApiAuthenticationExtension):
    target_class = "apps.api.authentication.TenantSessionAuthentication"
    name = "portalSession"

    def get_security_definition(self, auto_schema):
        return {
            "type": "apiKey",
            "in": "cookie",
            "name": "sessionid",
            "description": "The portal's own pages, on the tenant's host; unsafe methods need X-CSRFToken.",
        }


class JwtScheme(OpenApiAuthenticationExtension):
    target_class = "apps.api.authentication.JwtAuthentication"
    name = "bearerJwt"

    def get_security_definition(self, auto_schema):
        return {"type": "http", "scheme": "bearer", "bearerFormat": "JWT"}
