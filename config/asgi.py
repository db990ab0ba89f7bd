"""ASGI entry point: HTTP through Django, WebSockets through Channels (daphne serves both)."""

import os

from django.core.asgi import get_asgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings.local")

# Django must be set up before anything imports models.
django_http_application = get_asgi_application()

from channels.routing import ProtocolTypeRouter, URLRouter  # noqa: E402

from apps.health.startup import verify_critical_dependencies_if_configured  # noqa: E402

verify_critical_dependencies_if_configured()

websocket_urlpatterns: list = []

application = ProtocolTypeRouter(
    {
        "http": django_http_application,
        "websocket": URLRouter(websocket_urlpatterns),
    }
)
