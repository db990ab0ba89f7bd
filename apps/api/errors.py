"""One error body for every API failure: {"error": {"code", "message", "details"}}.

Installed as REST_FRAMEWORK["EXCEPTION_HANDLER"]. Django's own exceptions are mapped first:
`DoesNotExist` and Http404 are 404 (a document you may not see looks exactly like a missing one),
Django's PermissionDenied is 403, and model ValidationErrors are 400 with field details.
"""

from __future__ import annotations

import logging
import math
from typing import Any, cast

from django.core.exceptions import ObjectDoesNotExist
from django.core.exceptions import PermissionDenied as DjangoPermissionDenied
from django.core.exceptions import ValidationError as DjangoValidationError
from django.db import InterfaceError, OperationalError
from django.http import Http404
from rest_framework import exceptions, status
from rest_framework.response import Response
from rest_framework.views import exception_handler as drf_exception_handler
from rest_framework.views import set_rollback

from apps.answers.errors import QueryTimeoutError
from apps.core.errors import DATABASE_RETRY_AFTER_SECONDS, DATABASE_UNAVAILABLE_MESSAGE

logger = logging.getLogger(__name__)


def error_body(code: str, message: str, details: Any = None) -> dict[str, Any]:
    return {"error": {"code": code, "message": message, "details": details if details is not None else {}}}


class AnswerTimedOut(exceptions.APIException):
    status_code = status.HTTP_504_GATEWAY_TIMEOUT
    default_code = "timed_out"
    default_detail = "The answer took too long and was stopped."

    def __init__(self, *, query_id: int | None) -> None:
        super().__init__()
        self.query_id = query_id  # the logged question, so feedback can still attach to it


def _as_api_exception(exc: Exception) -> Exception:
    if isinstance(exc, QueryTimeoutError):
        return AnswerTimedOut(query_id=exc.query_id)
    if isinstance(exc, Http404 | ObjectDoesNotExist):
        return exceptions.NotFound("Not found.")
    if isinstance(exc, DjangoPermissionDenied):
        return exceptions.PermissionDenied()
    if isinstance(exc, DjangoValidationError):
        detail = exc.message_dict if hasattr(exc, "error_dict") else {"non_field_errors": exc.messages}
        return exceptions.ValidationError(detail)
    return exc


def _code_and_message(exc: exceptions.APIException) -> tuple[str, str, Any]:
    if isinstance(exc, exceptions.ValidationError):
        return "invalid", "The request is invalid; see details.", exc.detail
    detail = exc.detail
    code = getattr(detail, "code", None) or exc.default_code
    if isinstance(detail, dict | list):
        return str(code), str(exc.default_detail), detail
    details: dict[str, Any] = {}
    if isinstance(exc, AnswerTimedOut):
        details["query_id"] = exc.query_id
    wait = getattr(exc, "wait", None)
    if isinstance(exc, exceptions.Throttled) and wait is not None:
        details["retry_after"] = max(1, math.ceil(wait))
        return "rate_limited", "Too many requests; slow down and retry after the indicated time.", details
    return str(code), str(detail), details


def api_exception_handler(exc: Exception, context: dict[str, Any]) -> Response | None:
    if isinstance(exc, OperationalError | InterfaceError):
        return _database_unavailable(context)
    exc = _as_api_exception(exc)
    response = drf_exception_handler(exc, context)
    if response is None:
        # Not ours to explain: log it (with the traceback) and answer in the same shape.
        logger.exception("unhandled error in %s", type(context.get("view")).__name__)
        set_rollback()
        return Response(
            error_body("internal_error", "An internal error occurred."), status=status.HTTP_500_INTERNAL_SERVER_ERROR
        )
    code, message, details = _code_and_message(cast(exceptions.APIException, exc))
    response.data = error_body(code, message, details)
    if "retry_after" in details:
        response["Retry-After"] = str(details["retry_after"])  # DRF's rounds down, to 0 for sub-second waits
    return response


def _database_unavailable(context: dict[str, Any]) -> Response:
    """As the pages do (apps.health.views.server_error): 503 and Retry-After, so clients back off."""
    logger.warning("database unreachable in %s", type(context.get("view")).__name__)
    set_rollback()
    response = Response(error_body("service_unavailable", DATABASE_UNAVAILABLE_MESSAGE), status=503)
    response["Retry-After"] = str(DATABASE_RETRY_AFTER_SECONDS)
    response["Cache-Control"] = "no-store"
    return response


class TooManyStreams(exceptions.APIException):
    status_code = status.HTTP_429_TOO_MANY_REQUESTS
    default_code = "too_many_streams"
    default_detail = "Too many answer streams are open for this user; close one and retry."


class TenantStreamsBusy(exceptions.APIException):
    status_code = status.HTTP_429_TOO_MANY_REQUESTS
    default_code = "tenant_busy"
    default_detail = "The company has as many answer streams open as it may; retry shortly."


class StreamSlotsUnavailable(exceptions.APIException):
    status_code = status.HTTP_503_SERVICE_UNAVAILABLE
    default_code = "slots_unavailable"
    default_detail = "Answer streams cannot be counted right now (Redis is unreachable); retry shortly."
