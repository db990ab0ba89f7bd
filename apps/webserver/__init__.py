"""The web process, `manage.py serve`: daphne workers sharing one socket, request bodies bounded
before they are read, and a graceful drain on SIGTERM.

It runs the surfaces (settings.ASGI_APPLICATION) and tells the readiness probe when a drain starts
(apps.health.draining), so it sits above every other app; nothing imports it.
"""
