"""The directory sends every request to the shard that holds its tenant, and nothing else anywhere.

Routing by host name, API key, bearer token tenant and WebSocket; the Celery work of an upload runs
on its tenant's shard; an unknown host or placement is refused; no shard serves another's tenant.
"""

from __future__ import annotations

import json
import os
import re
import signal
import socket as socket_module
import time
from typing import Any

import pytest

from tests.support.cells import Cells

pytestmark = [pytest.mark.integration, pytest.mark.slow]


@pytest.fixture(scope="module")
def tenants(cells: Cells) -> dict[str, dict[str, Any]]:
    """A tenant on each shard, each with one document its shard's worker ingested (through the directory)."""
    found: dict[str, dict[str, Any]] = {}
    for shard in ("main", "b"):
        schema, host, password = cells.tenant(shard, f"route_{shard}")
        key = cells.api_key(shard, schema)
        document_id = _upload(cells, key, f"policy-{shard}", f"The {shard} shard's travel budget is 42 zorkmids.")
        found[shard] = {"schema": schema, "host": host, "password": password, "key": key, "document": document_id}
    for tenant in found.values():
        _indexed(cells, tenant["key"], tenant["document"])
    return found


def _upload(cells: Cells, key: str, title: str, text: str) -> int:
    boundary = "----shardtest"
    body = (
        f'--{boundary}\r\nContent-Disposition: form-data; name="files"; filename="{title}.txt"\r\n'
        f"Content-Type: text/plain\r\n\r\n{text}\r\n--{boundary}--\r\n"
    ).encode()
    status, _, raw = cells.request(
        "/api/v1/documents/ingest", method="POST", body=body,
        headers={"X-API-Key": key, "Content-Type": f"multipart/form-data; boundary={boundary}"},
    )  # fmt: skip
    assert status == 202, raw[:300]
    return int(json.loads(raw)["jobs"][0]["document_id"])


def _indexed(cells: Cells, key: str, document_id: int, timeout: float = 120) -> dict:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        status, _, document = cells.api(f"/api/v1/documents/{document_id}", key)
        if status == 200 and document.get("status") == "indexed":
            return document
        time.sleep(0.5)
    raise AssertionError(f"document {document_id} was not indexed in {timeout}s: {document}")


def test_hosts_reach_their_own_shard_and_unknown_hosts_are_refused(cells, tenants):
    for tenant in tenants.values():
        status, _, page = cells.request("/accounts/login/", host=tenant["host"])
        assert status == 200
        assert b"Sign in" in page
    status, _, body = cells.request("/accounts/login/", host="nobody.localhost")
    assert status == 404
    assert json.loads(body)["detail"] == "No tenant is served at this address."
    # The directory's own readiness: every shard has a live web process.
    status, _, _ = cells.request("/health/shards", host="anything.localhost")
    assert status == 200
    # The other shard does not know the host at all: a request that bypassed the directory is a 404 too.
    status, _, _ = cells.request("/accounts/login/", host=tenants["b"]["host"], via="main")
    assert status == 404


def test_an_api_key_is_routed_by_its_prefix_to_its_shard_only(cells, tenants):
    for tenant in tenants.values():
        status, _, body = cells.api("/api/v1/history", tenant["key"], host="localhost")  # the platform host
        assert status == 200, body
    other = {"main": "b", "b": "main"}
    for shard, tenant in tenants.items():
        # Straight to the other shard: it has never heard of the key.
        status, _, body = cells.api("/api/v1/history", tenant["key"], via=other[shard])
        assert status == 401
        assert body["error"]["code"] == "invalid_api_key"
    forged = "kp_0123456789ab_" + "x" * 43
    status, _, _ = cells.api("/api/v1/history", forged, host="nobody.localhost")
    assert status == 404  # no route for the key, none for the host: the directory refuses


def test_uploads_are_ingested_by_their_own_shards_worker_into_its_own_servers(cells, tenants):
    for shard, tenant in tenants.items():
        # The tenant's schema exists on its shard's PostgreSQL only; its worker wrote there.
        assert tenant["schema"] in cells.schemas(shard)
        assert tenant["schema"] not in cells.schemas("b" if shard == "main" else "main")
        cells.wait_for(lambda: cells.chunk_nodes(shard, tenant["schema"]) > 0, what="the graph sync on its shard")  # noqa: B023
        assert cells.chunk_nodes("b" if shard == "main" else "main", tenant["schema"]) == 0
    for shard, tenant in tenants.items():
        status, _, answer = cells.api(
            "/api/v1/query", tenant["key"], method="POST", payload={"question": "What is the travel budget?"}
        )
        assert status == 200, answer
        assert f"The {shard} shard" in answer["answer"]


def test_a_bearer_token_is_routed_by_its_tenant_claim(cells, tenants):
    # The directory reads where a token points (the shard verifies it): a token naming tenant b's
    # schema reaches shard b, whose answer is its own refusal of a token it cannot verify.
    import base64

    claims = base64.urlsafe_b64encode(json.dumps({"tenant": tenants["b"]["schema"], "sub": "admin"}).encode())
    header = base64.urlsafe_b64encode(b'{"alg":"RS256","kid":"nobody"}')
    token = b".".join([header.rstrip(b"="), claims.rstrip(b"="), b"c2ln"]).decode()
    status, _, body = cells.request("/api/v1/history", host="localhost", headers={"Authorization": f"Bearer {token}"})
    assert status == 401, body
    assert cells.catalogue(
        "SELECT shard FROM directory_placement WHERE schema_name = %s", [tenants["b"]["schema"]]
    ) == [("b",)]
    token_elsewhere = token.replace(
        claims.rstrip(b"=").decode(), base64.urlsafe_b64encode(b'{"tenant":"nobody"}').rstrip(b"=").decode()
    )
    status, _, _ = cells.request(
        "/api/v1/history", host="nobody.localhost", headers={"Authorization": f"Bearer {token_elsewhere}"}
    )
    assert status == 404


def test_the_ask_socket_streams_through_the_directory_from_the_tenants_shard(cells, tenants):
    from websockets.sync.client import connect

    tenant = tenants["b"]
    session = _sign_in(cells, tenant["host"], tenant["password"])
    # The socket goes to the directory; the URL's host is the tenant's (the Host header the directory routes by).
    tcp = socket_module.create_connection(("127.0.0.1", cells.directory_port), timeout=20)
    with connect(
        f"ws://{tenant['host']}/ws/ask/",
        sock=tcp,
        additional_headers={"Cookie": f"sessionid={session}", "Origin": f"http://{tenant['host']}"},
        open_timeout=20,
    ) as socket:
        socket.send(json.dumps({"type": "ask", "question": "What is the travel budget?"}))
        frames = []
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            frame = json.loads(socket.recv(timeout=60))
            frames.append(frame)
            if frame["type"] in ("done", "error"):
                break
    text = "".join(frame.get("text", "") for frame in frames if frame["type"] == "token")
    assert "The b shard" in text, frames[-3:]


def _sign_in(cells: Cells, host: str, password: str) -> str:
    status, headers, page = cells.request("/accounts/login/", host=host)
    csrf_cookie = re.search(r"csrftoken=([^;]+)", " ".join(headers.get_all("Set-Cookie") or [])).group(1)
    token = re.search(rb'name="csrfmiddlewaretoken" value="([^"]+)"', page).group(1).decode()
    form = f"csrfmiddlewaretoken={token}&username=admin&password={password}".encode()
    status, headers, _ = cells.request(
        "/accounts/login/", host=host, method="POST", body=form,
        headers={"Content-Type": "application/x-www-form-urlencoded", "Cookie": f"csrftoken={csrf_cookie}",
                 "Referer": f"http://{host}/accounts/login/"},
    )  # fmt: skip
    cookies = " ".join(headers.get_all("Set-Cookie") or [])
    match = re.search(r"sessionid=([^;]+)", cookies)
    assert status == 302, (status, cookies)
    assert match, cookies
    return match.group(1)


def test_a_shard_cannot_claim_another_shards_tenant_or_host(cells, tenants):
    result = cells.manage("main", "create_portal_tenant", tenants["b"]["schema"], "--domain", "x.localhost",
                          "--admin-email", "a@x.example", "--shard", "main", check=False)  # fmt: skip
    assert result.returncode != 0
    assert "already placed on shard 'b'" in result.stderr
    sneaky = "sneaky_" + tenants["b"]["schema"][-8:]
    result = cells.manage("b", "create_portal_tenant", sneaky, "--domain", tenants["main"]["host"],
                          "--admin-email", "a@x.example", "--shard", "b", check=False)  # fmt: skip
    assert result.returncode != 0
    assert "already leads to tenant" in result.stderr
    status, _, _ = cells.request("/accounts/login/", host=tenants["main"]["host"])
    assert status == 200  # still routed to its own shard
    # Refused before anything was made: no placement, no schema on b.
    assert cells.catalogue("SELECT 1 FROM directory_placement WHERE schema_name = %s", [sneaky]) == []
    assert sneaky not in cells.schemas("b")


def test_a_deleted_tenant_leaves_the_directory(cells):
    schema, host, _ = cells.tenant("b", "deleted")
    assert cells.request("/accounts/login/", host=host)[0] == 200
    code = f"from apps.tenants.models import Tenant; Tenant.objects.get(schema_name='{schema}').delete(force_drop=True)"
    cells.manage("b", "shell", "-c", code)
    assert cells.catalogue("SELECT 1 FROM directory_placement WHERE schema_name = %s", [schema]) == []
    assert cells.catalogue("SELECT 1 FROM directory_route WHERE value = %s", [host]) == []
    status, _, body = cells.request("/accounts/login/", host=host)
    assert status == 404
    assert json.loads(body)["detail"] == "No tenant is served at this address."


def test_a_shard_too_busy_to_answer_its_health_check_for_seconds_stays_in_the_directory(cells, tenants):
    # A shard has one web address: taking it out of the directory answers its users 503 instead of
    # late. A cold start under fifty streams once kept /health/live waiting past the 2 s check.
    web = cells.web_processes["b"]
    os.killpg(web.pid, signal.SIGSTOP)
    try:
        deadline = time.monotonic() + 7
        while time.monotonic() < deadline:
            status, _, _ = cells.request("/health/shards", host="anything.localhost")
            assert status == 200, "the directory took a busy shard out"
            time.sleep(0.5)
    finally:
        os.killpg(web.pid, signal.SIGCONT)
    status, _, _ = cells.request("/accounts/login/", host=tenants["b"]["host"])
    assert status == 200
