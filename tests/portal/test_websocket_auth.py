"""Sockets run in the tenant of their Host header and authenticate with that tenant's session."""

from __future__ import annotations

import asyncio

import pytest
from channels.db import database_sync_to_async
from channels.layers import get_channel_layer
from channels.testing import WebsocketCommunicator
from django.contrib.sessions.models import Session
from django_tenants.utils import schema_context

from apps.accounts.models import User
from apps.ingestion.services import UploadedFile, documents_upload
from apps.portal.realtime.job_progress import MESSAGE_TYPE, user_jobs_group
from config.asgi import application

from .conftest import member_of, ws_headers
from .streams import frames_until, open_socket

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


@database_sync_to_async
def _in_site(site, change) -> None:
    with schema_context(site.schema):
        change()


@pytest.mark.parametrize(
    "change",
    [
        pytest.param(lambda user: _saved(user, is_active=False), id="deactivated"),
        pytest.param(lambda user: Session.objects.all().delete(), id="signed-out"),
        pytest.param(lambda user: _password_changed(user), id="password-changed"),
    ],
)
async def test_an_open_socket_stops_acting_for_a_user_who_lost_the_right(site, member, change):
    """Attack pass, hole 3: the socket kept answering as the user of connect time."""
    communicator = await open_socket(site, member)
    try:
        await _in_site(site, lambda: change(member.user))
        await communicator.send_json_to({"type": "ask", "question": "What is the refund policy?"})
        frame = await communicator.receive_json_from(timeout=10)
        closed = await communicator.receive_output(timeout=10)
    finally:
        await communicator.disconnect()

    assert (frame["type"], frame["code"]) == ("error", "unauthenticated")
    assert closed == {"type": "websocket.close", "code": 4401}


async def test_a_demoted_superuser_asks_with_todays_principals(site):
    """The question after a demotion is answered with the principals of now, not of connect time."""
    boss = await database_sync_to_async(member_of)(site, superuser=True)
    await _in_site(site, _superusers_only_memo)
    question = "What is the Osprey project code word?"
    communicator = await open_socket(site, boss)
    try:
        await communicator.send_json_to({"type": "ask", "question": question})
        before = (await frames_until(communicator, "done"))[-1]
        await _in_site(site, lambda: _saved(User.objects.get(pk=boss.user.pk), is_superuser=False))
        await frames_until(communicator, "end")
        await communicator.send_json_to({"type": "ask", "question": question})
        after = (await frames_until(communicator, "done"))[-1]
    finally:
        await communicator.disconnect()

    assert "BLUEHERON" in before["answer"]
    assert "BLUEHERON" not in after["answer"]


def _saved(user: User, **fields: object) -> None:
    """A change as the admin and the services make it: saved through the model, so every process's
    cached copy of the user is dropped (a raw UPDATE shows within PROCESS_CACHE_TTL_SECONDS)."""
    for name, value in fields.items():
        setattr(user, name, value)
    user.save(update_fields=list(fields))


def _superusers_only_memo() -> None:
    upload = UploadedFile(filename="osprey.md", data=b"# Osprey\n\nThe Osprey project code word is BLUEHERON.")
    documents_upload(uploads=[upload], uploaded_by=None, visible_to_tenant=False)


def _password_changed(user: User) -> None:
    fresh = User.objects.get(pk=user.pk)
    fresh.set_password("a different long password")
    fresh.save(update_fields=["password"])


def _session_expires_in(site, member, seconds: int) -> None:
    from django.contrib.sessions.backends.db import SessionStore

    with schema_context(site.schema):
        store = SessionStore(session_key=member.session_key)
        store.load()
        store.set_expiry(seconds)
        store.save()


async def test_a_session_that_expires_between_questions_ends_the_socket(site, member):
    """The session is read through the process cache; its expiry is still checked on every question."""
    await database_sync_to_async(_session_expires_in)(site, member, 2)
    communicator = await open_socket(site, member)
    try:
        await communicator.send_json_to({"type": "ask", "question": "What is the refund policy?"})
        first = await frames_until(communicator, "end")
        await asyncio.sleep(2.2)
        await communicator.send_json_to({"type": "ask", "question": "What is the refund policy?"})
        frame = await communicator.receive_json_from(timeout=10)
        closed = await communicator.receive_output(timeout=10)
    finally:
        await communicator.disconnect()

    assert "done" in [each["type"] for each in first]
    assert (frame["type"], frame["code"]) == ("error", "unauthenticated")
    assert closed == {"type": "websocket.close", "code": 4401}


@pytest.mark.parametrize(
    "change",
    [
        pytest.param(lambda user: _saved(user, is_active=False), id="deactivated"),
        pytest.param(lambda user: Session.objects.all().delete(), id="signed-out"),
        pytest.param(lambda user: _password_changed(user), id="password-changed"),
    ],
)
async def test_an_open_jobs_socket_hears_nothing_more_after_the_user_lost_the_right(site, member, change):
    """Third attack pass: after a sign-out and a password change, an old /ws/jobs/ socket still
    received the user's new uploads (file name, status, document link)."""
    communicator = WebsocketCommunicator(application, "/ws/jobs/", headers=ws_headers(site, cookie=member.cookie))
    assert (await communicator.connect(timeout=10))[0]
    group = user_jobs_group(schema_name=site.schema, user_id=member.user.pk)
    frame = {"type": "job", "job_id": "1", "filename": "merger-plan.md", "status": "queued"}
    try:
        await get_channel_layer().group_send(group, {"type": MESSAGE_TYPE, "frame": frame})
        assert (await communicator.receive_json_from(timeout=10))["filename"] == "merger-plan.md"
        await _in_site(site, lambda: change(member.user))
        await get_channel_layer().group_send(group, {"type": MESSAGE_TYPE, "frame": frame})
        refused = await communicator.receive_json_from(timeout=10)
        closed = await communicator.receive_output(timeout=10)
    finally:
        await communicator.disconnect()

    assert refused == {"type": "error", "code": "unauthenticated"}
    assert closed == {"type": "websocket.close", "code": 4401}


@pytest.mark.parametrize("path", PATHS)
async def test_deprovisioning_closes_an_open_socket_at_once(site, member, path):
    """SCIM deprovisioning tells the user's sockets to re-check now, not at the next heartbeat."""
    from apps.accounts.directory import user_deprovision

    communicator = WebsocketCommunicator(application, path, headers=ws_headers(site, cookie=member.cookie))
    connected, _ = await communicator.connect(timeout=30)
    assert connected
    try:
        if path == "/ws/jobs/":
            await communicator.receive_nothing(timeout=0.5)  # the snapshot of the user's jobs (none)
        leaver = member.user
        await _in_site(site, lambda: user_deprovision(user=User.objects.get(pk=leaver.pk), actor="test", reason="left"))
        frame = await communicator.receive_json_from(timeout=3)
        closed = await communicator.receive_output(timeout=3)
    finally:
        await communicator.disconnect()

    assert (frame["type"], frame["code"]) == ("error", "unauthenticated")
    assert closed == {"type": "websocket.close", "code": 4401}
