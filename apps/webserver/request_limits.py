"""Request bodies bounded before they are read (issue 26, case 5).

daphne (Twisted underneath) receives a whole request body before the application sees the request,
then hands all of it to the ASGI queue at once: a 200 MB POST grew a web process by gigabytes
before Django could look at a size limit or ask who was sending it. Here the limit is applied by
the HTTP server itself, on the request line and headers, before any body byte is accepted:

- an upload route (`UPLOAD_PATHS`) may carry `REQUEST_MAX_UPLOAD_BYTES`, but only when the request
  carries credentials (an API key, a bearer token or the session cookie); without them it gets the
  ordinary limit, and a larger body is answered 401, unread;
- every other request may carry `REQUEST_MAX_BODY_BYTES`;
- a declared Content-Length over the limit is answered 413 at once; a chunked body is counted as
  it arrives and cut off with 413 the moment it passes the limit;
- Twisted no longer parses multipart bodies itself (a whole extra copy in memory, for nothing).

Whether the credentials are *valid* is still decided by Django; what this bounds is how much an
anonymous or hostile client can make a web process hold.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass

from daphne.http_protocol import HTTPFactory, WebRequest
from django.conf import settings

# What the API accepts: a JWT bearer token or an API key (apps/api/authentication.py, whose
# API_KEY_HEADER a test holds this to; importing it here would load the API's models into the server).
CREDENTIAL_HEADERS = (b"authorization", b"x-api-key")
UPLOAD_PATHS = re.compile(rb"^/(api/v1/documents/(ingest|\d+)|documents/upload/)(\?|$)")


@dataclass(frozen=True)
class BodyRefusal:
    status: int
    reason: str
    code: str
    message: str

    def response(self) -> bytes:
        body = json.dumps({"error": {"code": self.code, "message": self.message, "details": {}}}).encode()
        head = (
            f"HTTP/1.1 {self.status} {self.reason}\r\n"
            "Content-Type: application/json\r\n"
            f"Content-Length: {len(body)}\r\n"
            "Connection: close\r\n\r\n"
        )
        return head.encode() + body


def body_limit(*, path: bytes, has_credentials: bool) -> tuple[int, BodyRefusal]:
    """The largest body this request may send, and how to refuse a larger one."""
    ordinary = settings.REQUEST_MAX_BODY_BYTES
    if UPLOAD_PATHS.match(path):
        if has_credentials:
            upload = settings.REQUEST_MAX_UPLOAD_BYTES
            return upload, _too_large(upload, "Upload fewer or smaller files per request")
        return ordinary, BodyRefusal(
            401, "Unauthorized", "not_authenticated", "Sign in or send an API key before uploading files."
        )
    return ordinary, _too_large(ordinary, "Send a smaller request")


def _too_large(limit: int, advice: str) -> BodyRefusal:
    return BodyRefusal(
        413, "Content Too Large", "request_too_large", f"{advice}: the limit is {limit / 1_048_576:.1f} MB."
    )


class BoundedWebRequest(WebRequest):
    """daphne's request, refusing an oversized body before reading it."""

    _limit = 0
    _received = 0
    _refusal: BodyRefusal | None = None
    _refused = False

    def __init__(self, *args, **kwargs) -> None:
        # Twisted would read a whole multipart body into memory once more and parse it into
        # `request.args`, which daphne never uses (Django parses the body, spooling files to disk);
        # a body it could not parse was answered with a bare 400 before Django saw it.
        kwargs.setdefault("parsePOSTFormSubmission", False)
        super().__init__(*args, **kwargs)

    def gotLength(self, length: int | None) -> None:
        # Twisted calls this once the headers are in and before any body byte is read. The request
        # line's path is only on the channel until then (the request gets it when the body is in);
        # without it the ordinary limit applies.
        path = getattr(self.channel, "_path", b"")
        self._limit, self._refusal = body_limit(path=path, has_credentials=self._has_credentials())
        if length is not None and length > self._limit:
            self._refuse()
            return
        super().gotLength(length)

    def handleContentChunk(self, data: bytes) -> None:
        if self._refused:
            return
        self._received += len(data)
        if self._received > self._limit:  # a chunked body, with no declared length
            self._refuse()
            return
        super().handleContentChunk(data)

    def requestReceived(self, command: bytes, path: bytes, version: bytes) -> None:
        if not self._refused:
            super().requestReceived(command, path, version)

    def _has_credentials(self) -> bool:
        if any(self.requestHeaders.hasHeader(name) for name in CREDENTIAL_HEADERS):
            return True
        return settings.SESSION_COOKIE_NAME.encode() in self.received_cookies

    def _refuse(self) -> None:
        """Answer at once and close: stop reading the socket, flush the answer, hang up."""
        assert self._refusal is not None
        self._refused = True
        self.requestHeaders.removeHeader(b"expect")  # no "100 Continue" after the refusal
        transport = self.channel.transport
        transport.pauseProducing()
        transport.write(self._refusal.response())
        transport.loseConnection()


class BoundedHTTPFactory(HTTPFactory):
    def buildProtocol(self, addr):
        protocol = super().buildProtocol(addr)
        protocol.requestFactory = BoundedWebRequest
        return protocol
