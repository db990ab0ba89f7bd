"""Request bodies are bounded before they are read (issue 26, case 5), on the real web server.

A 200 MB anonymous POST to the upload route once grew a web process by gigabytes before it was
answered 401: daphne read the whole body before Django saw the request. Here the web processes'
memory is measured around each oversized request.
"""

from __future__ import annotations

import json
import socket
import threading

import psutil
import pytest

from apps.api.authentication import API_KEY_HEADER
from apps.webserver.request_limits import CREDENTIAL_HEADERS, body_limit
from tests.portal.live import LivePortal, live_portal

pytestmark = [pytest.mark.integration]

MB = 1024 * 1024
BODY_LIMIT = 1 * MB
UPLOAD_LIMIT = 3 * MB
MEMORY_GROWTH_LIMIT = 50 * MB
TENANT_HOST = "alpha.localhost"


@pytest.fixture(scope="module")
def portal(tmp_path_factory, provisioned_tenants) -> LivePortal:
    env = {"REQUEST_MAX_BODY_BYTES": str(BODY_LIMIT), "REQUEST_MAX_UPLOAD_BYTES": str(UPLOAD_LIMIT)}
    with live_portal(log_path=tmp_path_factory.mktemp("limits") / "daphne.log", extra_env=env) as live:
        yield live


def web_memory(portal: LivePortal) -> int:
    """Resident memory of the supervisor and its web workers."""
    supervisor = psutil.Process(portal.pid)
    return sum(process.memory_info().rss for process in [supervisor, *supervisor.children(recursive=True)])


def post(portal: LivePortal, path: str, *, declared: int | None, send: int, headers: dict[str, str] | None = None):
    """POST `send` bytes (declaring `declared`, or chunked when None) while reading the answer, as a
    client that does not wait for one would. Returns (status, JSON body)."""
    connection = socket.create_connection(("127.0.0.1", portal.port), timeout=30)
    head = [f"POST {path} HTTP/1.1", f"Host: {TENANT_HOST}", "Connection: close"]
    head.append("Content-Type: multipart/form-data; boundary=x")
    head += [f"{name}: {value}" for name, value in (headers or {}).items()]
    head.append(f"Content-Length: {declared}" if declared is not None else "Transfer-Encoding: chunked")
    connection.sendall(("\r\n".join(head) + "\r\n\r\n").encode())

    def send_body() -> None:
        piece = b"x" * (256 * 1024)
        framed = piece if declared is not None else b"%x\r\n%s\r\n" % (len(piece), piece)
        try:
            for _ in range(send // len(piece)):
                connection.sendall(framed)
        except OSError:
            return  # the server hung up: what this test expects once it has answered

    sender = threading.Thread(target=send_body)
    sender.start()
    received = b""
    try:
        while b"\r\n\r\n" not in received or len(received.partition(b"\r\n\r\n")[2]) < _content_length(received):
            data = connection.recv(65536)
            if not data:
                break
            received += data
    finally:
        connection.close()
        sender.join(timeout=30)
    head_text, _, body = received.partition(b"\r\n\r\n")
    return int(head_text.split()[1]), json.loads(body)


def _content_length(received: bytes) -> int:
    for line in received.partition(b"\r\n\r\n")[0].split(b"\r\n"):
        name, _, value = line.partition(b":")
        if name.strip().lower() == b"content-length":
            return int(value)
    return 1 << 62


def test_an_anonymous_200_mb_upload_is_refused_unread(portal):
    before = web_memory(portal)

    status, body = post(portal, "/api/v1/documents/ingest", declared=200 * MB, send=40 * MB)

    assert status == 401
    assert body["error"]["code"] == "not_authenticated"
    assert web_memory(portal) - before < MEMORY_GROWTH_LIMIT


def test_an_anonymous_upload_to_the_portal_form_is_refused_unread(portal):
    before = web_memory(portal)

    status, _ = post(portal, "/documents/upload/", declared=200 * MB, send=40 * MB)

    assert status == 401
    assert web_memory(portal) - before < MEMORY_GROWTH_LIMIT


def test_an_upload_with_credentials_over_the_upload_limit_is_refused_unread(portal):
    before = web_memory(portal)

    status, body = post(
        portal,
        "/api/v1/documents/ingest",
        declared=200 * MB,
        send=40 * MB,
        headers={"X-API-Key": "not-checked-before-the-size"},
    )

    assert status == 413
    assert body["error"]["code"] == "request_too_large"
    assert "3.0 MB" in body["error"]["message"]
    assert web_memory(portal) - before < MEMORY_GROWTH_LIMIT


def test_a_chunked_body_is_cut_off_when_it_passes_the_limit(portal):
    before = web_memory(portal)

    status, body = post(portal, "/api/v1/query", declared=None, send=40 * MB)

    assert status == 413
    assert body["error"]["code"] == "request_too_large"
    assert web_memory(portal) - before < MEMORY_GROWTH_LIMIT


def test_a_body_within_the_limit_reaches_the_application(portal):
    """Django answers (authentication failed), not the size check: the upload route's limit applies."""
    status, body = post(
        portal,
        "/api/v1/documents/ingest",
        declared=2 * MB,
        send=2 * MB,
        headers={"X-API-Key": "kp_000000000000_" + "a" * 43},
    )

    assert status == 401
    assert body["error"]["message"] != "Sign in or send an API key before uploading files."


@pytest.mark.parametrize(
    ("path", "has_credentials", "expected_limit", "expected_status"),
    [
        (b"/api/v1/documents/ingest", True, UPLOAD_LIMIT, 413),
        (b"/api/v1/documents/12", True, UPLOAD_LIMIT, 413),
        (b"/documents/upload/", True, UPLOAD_LIMIT, 413),
        (b"/documents/upload/?next=/", True, UPLOAD_LIMIT, 413),
        (b"/api/v1/documents/ingest", False, BODY_LIMIT, 401),
        (b"/api/v1/documents/ingest/../../query", True, BODY_LIMIT, 413),
        (b"/api/v1/query", True, BODY_LIMIT, 413),
        (b"", True, BODY_LIMIT, 413),
    ],
)
def test_which_limit_a_request_gets(settings, path, has_credentials, expected_limit, expected_status):
    settings.REQUEST_MAX_BODY_BYTES, settings.REQUEST_MAX_UPLOAD_BYTES = BODY_LIMIT, UPLOAD_LIMIT

    limit, refusal = body_limit(path=path, has_credentials=has_credentials)

    assert (limit, refusal.status) == (expected_limit, expected_status)


def test_the_api_key_header_counts_as_credentials():
    assert API_KEY_HEADER.lower().encode() in CREDENTIAL_HEADERS
