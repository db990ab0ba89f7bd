"""Sockets run in the tenant of their Host header and authenticate with that tenant's session."""

from __future__ import annotations

import pytest
from channels.db import database_sync_to_async
from channels.testing import WebsocketCommunicator
from django_tenants.utils import schema_context

from apps.accounts.models import User
from config.asgi import application

from .conftest import ws_headers

pytestmark = [pytest.mark.integration, pytest.mark.asyncio]

PATHS = ["/ws/ask/", "/ws/jobs/"]


async def connect(path: str, headers: list) -> tuple[bool, int | None]:
    communicator = WebsocketCommunicator(application, path, headers=headers)
    connected, code = await communicator.connect(timeout=10)
    await communicator.disconnect()
    return connected, code


@pytest.mark.parametrize("path", PATHS)
async def test_a_signed_in_user_connects_on_their_tenants_host(site, member, path):
    assert await connect(path, ws_headers(site, cookie=member.cookie)) == (True, None)


@pytest.mark.parametrize("path", PATHS)
async def test_without_a_session_the_socket_is_closed(site, path):
    connected, code = await connect(path, ws_headers(site))
    assert not connected
    assert code == 4401


async def test_a_forged_session_key_is_closed(site):
    connected, _ = await connect("/ws/ask/", ws_headers(site, cookie="sessionid=not-a-real-session-key"))
    assert not connected


@pytest.mark.parametrize("path", PATHS)
async def test_a_session_is_worthless_on_another_tenants_host(site, member, provisioned_tenants, path):
    """alpha.localhost resolves to tenant alpha, whose session table has never seen this key."""
    other = "alpha.localhost"
    connected, code = await connect(path, ws_headers(site, cookie=member.cookie, host=other, origin=f"http://{other}"))
    assert not connected
    assert code == 4401


async def test_an_unknown_host_is_refused_before_any_session_lookup(site, member):
    host = "nobody-here.localhost"
    connected, _ = await connect("/ws/ask/", ws_headers(site, cookie=member.cookie, host=host, origin=f"http://{host}"))
    assert not connected


async def test_a_page_of_another_host_cannot_open_this_tenants_socket(site, member, provisioned_tenants):
    """Tenant hosts share a site for cookies; the Origin must be the socket's own host."""
    connected, _ = await connect("/ws/ask/", ws_headers(site, cookie=member.cookie, origin="http://alpha.localhost"))
    assert not connected
    connected, _ = await connect("/ws/ask/", ws_headers(site, cookie=member.cookie, origin="http://evil.example.com"))
    assert not connected


async def test_a_deactivated_user_is_closed(site, member):
    @database_sync_to_async
    def deactivate() -> None:
        with schema_context(site.schema):
            User.objects.filter(pk=member.user.pk).update(is_active=False)

    await deactivate()
    connected, code = await connect("/ws/ask/", ws_headers(site, cookie=member.cookie))
    assert (connected, code) == (False, 4401)
