"""What every API view shares: authentication, scopes, rate limits, JSON in and out, error shapes."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, ClassVar

from rest_framework.generics import GenericAPIView
from rest_framework.negotiation import DefaultContentNegotiation
from rest_framework.pagination import PageNumberPagination
from rest_framework.parsers import BaseParser
from rest_framework.renderers import JSONRenderer
from rest_framework.serializers import Serializer
from rest_framework.views import APIView

from ..authentication import ApiKeyAuthentication, JwtAuthentication, TenantSessionAuthentication
from ..parsers import JsonParser
from ..permissions import ScopeRequired
from ..ratelimit.throttle import TokenBucketThrottle, rate_limit_headers_add


class JsonRegardless(DefaultContentNegotiation):
    """Answer JSON whatever the Accept header says (errors too), rather than 406."""

    def select_renderer(self, request, renderers, format_suffix=None):
        return renderers[0], renderers[0].media_type


class PortalPagination(PageNumberPagination):
    page_size = 20
    page_size_query_param = "page_size"
    max_page_size = 100


class ApiView(APIView):
    # Which rate-limit buckets the view draws from, and which scope a credential needs for it.
    route_class: ClassVar[str] = "query"
    required_scope: ClassVar[str] = "query"

    authentication_classes = (ApiKeyAuthentication, JwtAuthentication, TenantSessionAuthentication)
    permission_classes = (ScopeRequired,)
    throttle_classes = (TokenBucketThrottle,)
    renderer_classes = (JSONRenderer,)
    parser_classes: Sequence[type[BaseParser]] = (JsonParser,)
    content_negotiation_class = JsonRegardless

    def finalize_response(self, request, response, *args, **kwargs):
        response = super().finalize_response(request, response, *args, **kwargs)
        rate_limit_headers_add(request, response)
        return response


class ApiListView(ApiView, GenericAPIView):
    pagination_class = PortalPagination


def validated(serializer_class: type[Serializer], data: Any, **kwargs: Any) -> dict[str, Any]:
    serializer = serializer_class(data=data, **kwargs)
    serializer.is_valid(raise_exception=True)
    return dict(serializer.validated_data)
