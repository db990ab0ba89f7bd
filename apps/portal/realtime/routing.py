"""WebSocket routes of a tenant's host (config/asgi.py wraps them in the tenant + session stack)."""

from django.urls import path

from .ask_consumer import AskConsumer
from .job_progress import JobProgressConsumer

websocket_urlpatterns = [
    path("ws/ask/", AskConsumer.as_asgi(), name="ws_ask"),
    path("ws/jobs/", JobProgressConsumer.as_asgi(), name="ws_jobs"),
]
