"""Who is on the other end of a socket, read again before acting for them.

A WebSocket authenticates once, at connect. Before each question (and on each heartbeat) the
consumer reads the session and the user again, in the tenant's schema: a session ended (sign-out,
expiry, a password change), a user deactivated or removed, or a session that now belongs to someone
else ends the socket. The fresh user row also carries today's superuser flag, so the principals an
answer is built with are never those of connect time.

Both rows come through the process cache (apps/core/process_cache.py), as an API key's user does
on every API request: any save or delete of a session or a user (a sign-in, a sign-out, a password
change, a deactivation) makes every process read them again, and a session's expiry is checked
against its stored time on every question. Read from the database each time, they were a fifth of
the web process's CPU per answer under fifty concurrent streams (docs/portal.md).
"""

from __future__ import annotations

import copy
from dataclasses import dataclass
from datetime import datetime
from importlib import import_module

from django.conf import settings
from django.contrib.auth import HASH_SESSION_KEY, SESSION_KEY
from django.utils import timezone
from django.utils.crypto import constant_time_compare

from apps.accounts.models import User
from apps.core.errors import TenantContextRequired
from apps.core.process_cache import process_cache_get
from apps.tenants.context import active_schema_name, in_tenant


@dataclass(frozen=True)
class SessionFacts:
    """What a signed-in session says: whose it is, under which password, until when."""

    user_id: str
    auth_hash: str
    expires_at: datetime


def session_user_current(*, schema_name: str, session_key: str | None, user_id: int) -> User | None:
    """The socket's user as of now, or None when the socket must not act for anyone any more."""
    try:
        with in_tenant(schema_name):
            return session_user(session_key=session_key, user_id=user_id)
    except TenantContextRequired:
        return None  # the tenant was switched off or removed: nobody may act in it


def session_user(*, session_key: str | None, user_id: int) -> User | None:
    """As `session_user_current`, for a caller already inside the tenant's schema."""
    if not session_key:
        return None
    schema = active_schema_name()
    facts = process_cache_get("socket-session", (schema, session_key), lambda: session_facts_read(session_key))
    if facts is None or facts.expires_at <= timezone.now() or facts.user_id != str(user_id):
        return None
    user = process_cache_get("socket-user", (schema, user_id), lambda: _active_user_read(user_id))
    if user is None:
        return None
    if not constant_time_compare(facts.auth_hash, user.get_session_auth_hash()):
        return None  # the password changed since: every other session ends
    return copy.copy(user)  # shared with this process's other sockets; the caller's to keep


def session_facts_read(session_key: str) -> SessionFacts | None:
    """The session's facts from its row; None when it ended, expired or holds no signed-in user."""
    store = import_module(settings.SESSION_ENGINE).SessionStore(session_key=session_key)
    row = store.model.objects.filter(session_key=session_key, expire_date__gt=timezone.now()).first()
    if row is None:
        return None
    data = store.decode(row.session_data)
    if not data.get(SESSION_KEY):
        return None
    return SessionFacts(
        user_id=str(data[SESSION_KEY]), auth_hash=data.get(HASH_SESSION_KEY) or "", expires_at=row.expire_date
    )


def _active_user_read(user_id: int) -> User | None:
    return User.objects.filter(pk=user_id, is_active=True).first()
