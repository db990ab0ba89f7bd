"""The schema, its Swagger UI, and JSON 404s for every other path under /api/v1/."""

from __future__ import annotations

from drf_spectacular.utils import extend_schema
from drf_spectacular.views import SpectacularAPIView, SpectacularSwaggerSplitView
from rest_framework.exceptions import NotFound
from rest_framework.permissions import AllowAny
from rest_framework.views import APIView

from .base import JsonRegardless


class SchemaApi(SpectacularAPIView):
    authentication_classes = ()
    permission_classes = (AllowAny,)


class SwaggerUi(SpectacularSwaggerSplitView):
    """Swagger UI whose start-up script is a separate same-origin request (no inline script), under
    the portal's Content-Security-Policy."""

    authentication_classes = ()
    permission_classes = (AllowAny,)
    template_name = "api/swagger_ui.html"


@extend_schema(exclude=True)
class UnknownPathApi(APIView):
    """Anything else under /api/v1/ answers a JSON 404, not the HTML page."""

    authentication_classes = ()
    permission_classes = (AllowAny,)
    content_negotiation_class = JsonRegardless

    def initial(self, request, *args, **kwargs):
        super().initial(request, *args, **kwargs)
        raise NotFound("No API endpoint at this path.", code="not_found")
