"""SCIM's error body (RFC 7644 section 3.12) for every failure under /scim/v2/."""

from __future__ import annotations

from typing import Any

from django.core.exceptions import ObjectDoesNotExist
from django.http import Http404
from rest_framework import exceptions
from rest_framework.response import Response

ERROR_SCHEMA = "urn:ietf:params:scim:api:messages:2.0:Error"


class ScimError(Exception):
    def __init__(self, status: int, detail: str, scim_type: str = "") -> None:
        super().__init__(detail)
        self.status, self.detail, self.scim_type = status, detail, scim_type


def invalid_value(detail: str, scim_type: str = "invalidValue") -> ScimError:
    return ScimError(400, detail, scim_type)


def not_found(kind: str, resource_id: object) -> ScimError:
    return ScimError(404, f"{kind} {resource_id} not found")


def scim_error_body(status: int, detail: str, scim_type: str = "") -> dict[str, Any]:
    body: dict[str, Any] = {"schemas": [ERROR_SCHEMA], "status": str(status), "detail": detail}
    if scim_type:
        body["scimType"] = scim_type
    return body


def scim_exception_handler(exc: Exception, context: dict) -> Response:
    if isinstance(exc, ScimError):
        return Response(scim_error_body(exc.status, exc.detail, exc.scim_type), status=exc.status)
    if isinstance(exc, Http404 | ObjectDoesNotExist):
        return Response(scim_error_body(404, "not found"), status=404)
    if isinstance(exc, exceptions.ParseError):
        return Response(scim_error_body(400, "the body is not JSON", "invalidSyntax"), status=400)
    if isinstance(exc, exceptions.APIException):
        headers = {"WWW-Authenticate": 'Bearer realm="scim"'} if exc.status_code == 401 else {}
        return Response(scim_error_body(exc.status_code, str(exc.detail)), status=exc.status_code, headers=headers)
    raise exc
