"""ASGI entry point: HTTP through Django, WebSockets through Channels (daphne serves both)."""

import os

from django.core.asgi import get_asgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings.local")

# Django must be set up before anything imports models.
django_http_application = get_asgi_application()

from channels.routing import ProtocolTypeRouter, URLRouter  # noqa: E402

from apps.health.startup import verify_critical_dependencies_if_configured  # noqa: E402

verify_critical_dependencies_if_configured()

from django.conf import settings  # noqa: E402
from django.contrib.staticfiles.handlers import ASGIStaticFilesHandler  # noqa: E402

from apps.portal.realtime.middleware import tenant_websocket_stack  # noqa: E402
from apps.portal.realtime.routing import websocket_urlpatterns  # noqa: E402

if settings.PORTAL_SERVE_STATIC:
    django_http_application = ASGIStaticFilesHandler(django_http_application)

application = ProtocolTypeRouter(
    {
        "http": django_http_application,
        # Allowed origin -> tenant from the Host header -> session -> user, all failing closed.
        "websocket": tenant_websocket_stack(URLRouter(websocket_urlpatterns)),
    }
)
