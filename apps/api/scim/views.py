"""/scim/v2/ on a tenant's host: Users, Groups and the discovery resources, for its SCIM client."""

from __future__ import annotations

from typing import Any, ClassVar

from django.contrib.auth.models import Group
from django.db import connection
from django.db.models import QuerySet
from django_tenants.utils import get_public_schema_name
from drf_spectacular.openapi import AutoSchema
from rest_framework.permissions import IsAuthenticated
from rest_framework.renderers import JSONRenderer
from rest_framework.response import Response
from rest_framework.views import APIView

from apps.accounts.models import User
from apps.audit.models import AuditEvent
from apps.audit.services import audit_event_record

from ..apis.base import JsonRegardless
from ..parsers import JsonParser, ScimJsonParser
from .errors import ScimError, not_found, scim_exception_handler
from .filters import scim_filter_parse
from .patch import patch_operations_parse
from .provisioning import (
    resource_id_valid,
    scim_group_create,
    scim_group_delete,
    scim_group_patch,
    scim_group_replace,
    scim_user_create,
    scim_user_delete,
    scim_user_update,
    user_fields_from_resource,
    user_fields_of,
    user_patched,
)
from .representation import directory_groups, directory_users, group_resource, list_response, user_resource
from .tokens import ScimTokenAuthentication

USER_FILTERS = {"username": "username__iexact", "externalid": "directory_identity__scim_external_id", "id": "pk"}
GROUP_FILTERS = {"displayname": "name", "externalid": "directory_group__scim_external_id", "id": "pk"}
MAX_PAGE = 200


class ScimJsonRenderer(JSONRenderer):
    media_type = "application/scim+json"


class NotInTheApiSchema(AutoSchema):
    """SCIM is specified by RFC 7643/7644, not by the integration API's OpenAPI document."""

    def is_excluded(self) -> bool:
        return True


class ScimView(APIView):
    schema = NotInTheApiSchema()
    authentication_classes = (ScimTokenAuthentication,)
    permission_classes = (IsAuthenticated,)
    parser_classes = (ScimJsonParser, JsonParser)
    renderer_classes = (ScimJsonRenderer,)
    content_negotiation_class = JsonRegardless

    def initial(self, request, *args, **kwargs):
        if connection.schema_name == get_public_schema_name():  # type: ignore[attr-defined]
            raise ScimError(404, "SCIM is served on a tenant's own host")
        super().initial(request, *args, **kwargs)

    def get_exception_handler(self):
        return scim_exception_handler

    def handle_exception(self, exc):
        response = super().handle_exception(exc)
        if self.request.method != "GET" and 400 <= response.status_code < 500 and response.status_code != 401:
            # A refused write is audited (after its transaction rolled back: it changed nothing).
            audit_event_record(
                action="scim.refused",
                actor=getattr(self.request.user, "audit_label", "scim:unauthenticated"),
                target=self.request.path[:100],
                details={"method": self.request.method, "status": response.status_code, **response.data},
                outcome=AuditEvent.Outcome.FAILURE,
            )
        return response

    @property
    def base_url(self) -> str:
        return self.request.build_absolute_uri("/scim/v2").rstrip("/")


class ScimListView(ScimView):
    filters: ClassVar[dict[str, str]] = {}

    def page(self, queryset: QuerySet, render: Any) -> Response:
        params = self.request.query_params
        if params.get("filter"):
            lookups = scim_filter_parse(params["filter"], attributes=self.filters)
            if "pk" in lookups and not resource_id_valid(str(lookups["pk"])):
                return Response(list_response([], total=0, start_index=1))
            queryset = queryset.filter(**lookups)
        start = _positive_int(params.get("startIndex"), default=1)
        count = min(_positive_int(params.get("count"), default=100, minimum=0), MAX_PAGE)
        total = queryset.count()
        items = list(queryset[start - 1 : start - 1 + count])
        return Response(list_response([render(item) for item in items], total=total, start_index=start))


def _positive_int(value: str | None, *, default: int, minimum: int = 1) -> int:
    if value is None or value == "":
        return default
    if not resource_id_valid(value) or int(value) < minimum:
        raise ScimError(400, f"paging parameters are whole numbers of at least {minimum}", "invalidValue")
    return int(value)


def _user_or_404(user_id: str) -> User:
    user = directory_users().filter(pk=int(user_id)).first() if resource_id_valid(user_id) else None
    if user is None:
        raise not_found("User", user_id)
    return user


def _group_or_404(group_id: str) -> Group:
    group = directory_groups().filter(pk=int(group_id)).first() if resource_id_valid(group_id) else None
    if group is None:
        raise not_found("Group", group_id)
    return group


class UserListScim(ScimListView):
    filters = USER_FILTERS

    def get(self, request):
        return self.page(directory_users(), lambda user: user_resource(user, self.base_url))

    def post(self, request):
        user = scim_user_create(user_fields_from_resource(request.data), client=request.user)
        return Response(user_resource(user, self.base_url), status=201)


class UserScim(ScimView):
    def get(self, request, user_id: str):
        return Response(user_resource(_user_or_404(user_id), self.base_url))

    def put(self, request, user_id: str):
        user = _user_or_404(user_id)
        fields = user_fields_from_resource(request.data, current=user_fields_of(user))
        return Response(user_resource(scim_user_update(user, fields, client=request.user), self.base_url))

    def patch(self, request, user_id: str):
        user = _user_or_404(user_id)
        fields = user_patched(user_fields_of(user), patch_operations_parse(request.data))
        return Response(user_resource(scim_user_update(user, fields, client=request.user), self.base_url))

    def delete(self, request, user_id: str):
        scim_user_delete(_user_or_404(user_id), client=request.user)
        return Response(status=204)


class GroupListScim(ScimListView):
    filters = GROUP_FILTERS

    def get(self, request):
        with_members = "members" not in request.query_params.get("excludedAttributes", "")
        return self.page(
            directory_groups(), lambda group: group_resource(group, self.base_url, with_members=with_members)
        )

    def post(self, request):
        group = scim_group_create(request.data, client=request.user)
        return Response(group_resource(directory_groups().get(pk=group.pk), self.base_url), status=201)


class GroupScim(ScimView):
    def get(self, request, group_id: str):
        with_members = "members" not in request.query_params.get("excludedAttributes", "")
        return Response(group_resource(_group_or_404(group_id), self.base_url, with_members=with_members))

    def put(self, request, group_id: str):
        group = _group_or_404(group_id)
        scim_group_replace(group, request.data, client=request.user)
        return Response(group_resource(_group_or_404(group_id), self.base_url))

    def patch(self, request, group_id: str):
        group = _group_or_404(group_id)
        scim_group_patch(group, request.data, client=request.user)
        return Response(status=204)

    def delete(self, request, group_id: str):
        scim_group_delete(_group_or_404(group_id), client=request.user)
        return Response(status=204)


class ServiceProviderConfigScim(ScimView):
    def get(self, request):
        return Response(
            {
                "schemas": ["urn:ietf:params:scim:schemas:core:2.0:ServiceProviderConfig"],
                "documentationUri": "https://github.com/ (docs/identity.md in the portal's repository)",
                "patch": {"supported": True},
                "bulk": {"supported": False, "maxOperations": 0, "maxPayloadSize": 0},
                "filter": {"supported": True, "maxResults": MAX_PAGE},
                "changePassword": {"supported": False},
                "sort": {"supported": False},
                "etag": {"supported": False},
                "authenticationSchemes": [
                    {
                        "type": "oauthbearertoken",
                        "name": "Bearer token",
                        "description": "A tenant's SCIM token (POST /api/v1/admin/scim-tokens).",
                    }
                ],
            }
        )


def _resource_type(name: str, schema: str) -> dict[str, Any]:
    return {
        "schemas": ["urn:ietf:params:scim:schemas:core:2.0:ResourceType"],
        "id": name,
        "name": name,
        "endpoint": f"/{name}s",
        "schema": schema,
    }


class ResourceTypesScim(ScimView):
    def get(self, request):
        types = [
            _resource_type("User", "urn:ietf:params:scim:schemas:core:2.0:User"),
            _resource_type("Group", "urn:ietf:params:scim:schemas:core:2.0:Group"),
        ]
        return Response(list_response(types, total=len(types), start_index=1))


class UnknownScim(ScimView):
    def get(self, request, *args, **kwargs):
        raise ScimError(404, "no such SCIM resource")

    post = put = patch = delete = get
