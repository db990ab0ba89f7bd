"""Portal pages, answer streams over WebSocket and the Channels layer."""

from __future__ import annotations

from ..environment import env
from .data_stores import REDIS_SOCKET_TIMEOUT, REDIS_URL

# --- Channels -----------------------------------------------------------------------------------
CHANNEL_LAYERS = {
    "default": {
        "BACKEND": "channels_redis.core.RedisChannelLayer",
        # redis-py 8 reads with a 5 s socket timeout by default, exactly channels_redis's 5 s
        # BZPOPMIN: under load the client gave up first and the consumer died. Read longer than that.
        "CONFIG": {
            "hosts": [
                {
                    "address": REDIS_URL,
                    "socket_timeout": env.float("CHANNEL_LAYER_SOCKET_TIMEOUT", default=15.0),
                    "socket_connect_timeout": REDIS_SOCKET_TIMEOUT,
                }
            ]
        },
    }
}

# --- Portal (pages and answer streams) ----------------------------------------------------------
# A path, not a URL name: the public host has no portal, and a name would fail to reverse there.
# Where sign-in and sign-out lead is set on the portal's own views (apps/portal/urls.py).
LOGIN_URL = "/accounts/login/"
PORTAL_UPLOAD_MAX_FILES = env.int("PORTAL_UPLOAD_MAX_FILES", default=20)
# Roadmap 5.2: answer streams over WebSocket. Slots are leases in Redis (sorted sets scored by
# expiry), refreshed while a stream runs, so a dead worker's slots lapse after one lease.
PORTAL_STREAM_SLOTS_REDIS_URL = env.str("PORTAL_STREAM_SLOTS_REDIS_URL", default=REDIS_URL)
PORTAL_STREAMS_PER_USER = env.int("PORTAL_STREAMS_PER_USER", default=3)
PORTAL_STREAMS_PER_TENANT = env.int("PORTAL_STREAMS_PER_TENANT", default=100)
PORTAL_STREAM_LEASE_SECONDS = env.float("PORTAL_STREAM_LEASE_SECONDS", default=30.0)
PORTAL_STREAM_MAX_TOKENS = env.int("PORTAL_STREAM_MAX_TOKENS", default=2048)
PORTAL_STREAM_MAX_SECONDS = env.float("PORTAL_STREAM_MAX_SECONDS", default=120.0)
PORTAL_STREAM_CANCEL_GRACE_SECONDS = env.float("PORTAL_STREAM_CANCEL_GRACE_SECONDS", default=2.0)
# Threads per daphne process that run answer streams (more streams than this wait for a thread).
PORTAL_STREAM_THREADS = env.int("PORTAL_STREAM_THREADS", default=64)
# The server pings every HEARTBEAT seconds; a socket silent for HEARTBEAT_TIMEOUT (the client
# answers pings) or without a question for IDLE_TIMEOUT is closed.
PORTAL_WS_HEARTBEAT_SECONDS = env.float("PORTAL_WS_HEARTBEAT_SECONDS", default=15.0)
PORTAL_WS_HEARTBEAT_TIMEOUT_SECONDS = env.float("PORTAL_WS_HEARTBEAT_TIMEOUT_SECONDS", default=45.0)
PORTAL_WS_IDLE_TIMEOUT_SECONDS = env.float("PORTAL_WS_IDLE_TIMEOUT_SECONDS", default=900.0)
