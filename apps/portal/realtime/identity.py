"""Who is on the other end of a socket, read again before acting for them.

A WebSocket authenticates once, at connect. Before each question (and on each heartbeat) the
consumer reads the session and the user again, in the tenant's schema: a session ended (sign-out,
expiry, a password change), a user deactivated or removed, or a session that now belongs to someone
else ends the socket. The fresh user row also carries today's superuser flag, so the principals an
answer is built with are never those of connect time.
"""

from __future__ import annotations

from importlib import import_module

from django.conf import settings
from django.contrib.auth import HASH_SESSION_KEY, SESSION_KEY
from django.utils.crypto import constant_time_compare

from apps.accounts.models import User
from apps.core.errors import TenantContextRequired
from apps.tenants.context import in_tenant


def session_user_current(*, schema_name: str, session_key: str | None, user_id: int) -> User | None:
    """The socket's user as of now, or None when the socket must not act for anyone any more."""
    if not session_key:
        return None
    try:
        with in_tenant(schema_name):
            return _session_user(session_key=session_key, user_id=user_id)
    except TenantContextRequired:
        return None  # the tenant was switched off or removed: nobody may act in it


def _session_user(*, session_key: str, user_id: int) -> User | None:
    store = import_module(settings.SESSION_ENGINE).SessionStore(session_key=session_key)
    if not store.exists(session_key):
        return None
    data = store.load()
    if str(data.get(SESSION_KEY)) != str(user_id):
        return None
    user = User.objects.filter(pk=user_id, is_active=True).first()
    if user is None:
        return None
    session_hash = data.get(HASH_SESSION_KEY) or ""
    if not constant_time_compare(session_hash, user.get_session_auth_hash()):
        return None  # the password changed since: every other session ends
    return user
