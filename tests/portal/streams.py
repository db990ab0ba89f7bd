"""Helpers for answer-stream tests: a scripted Claude on the fake Anthropic server, frame readers."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from contextlib import contextmanager

from channels.testing import WebsocketCommunicator
from django.test import override_settings

from config.asgi import application
from tests.support.fake_anthropic import FakeAnthropicServer

from .conftest import Member, Site, ws_headers

# Sentences the refund policy supports (the verifier drops anything else). Each cites every early
# passage number; the pipeline keeps only the numbers that really support the sentence.
SUPPORTED_SENTENCES = [
    "Customers may request a full refund within 30 days of the original purchase date",
    "Refunds are issued to the original payment method only",
    "Professional services that have already been delivered are not refundable",
    "Usage-based charges for API calls that were consumed are not refundable either",
    "Monthly subscriptions can be cancelled at the end of the current billing month instead",
    "Ask your team lead when a case is unclear",
]
RECEIVE_TIMEOUT = 90  # seconds; generous, the test machine is shared


def scripted_answer(fake: FakeAnthropicServer, *, sentences: int = 6, token_delay_seconds: float = 0.0) -> int:
    """Queue one streamed answer, two deltas per sentence; returns how many deltas it has."""
    deltas: list[str] = []
    for sentence in SUPPORTED_SENTENCES[:sentences]:
        words = sentence.split(" ")
        half = len(words) // 2
        deltas += [" ".join(words[:half]) + " ", " ".join(words[half:]) + " [1][2][3][4]. "]
    fake.reply_stream(deltas, token_delay_seconds=token_delay_seconds)
    return len(deltas)


@contextmanager
def claude(**extra_settings) -> Iterator[FakeAnthropicServer]:
    """Answers come from Claude only (no extractive fallback), i.e. from the fake server."""
    with (
        FakeAnthropicServer() as fake,
        override_settings(
            ANTHROPIC_API_KEY="test-key",
            ANTHROPIC_BASE_URL=fake.base_url,
            LLM_DEFAULT_ORDER=["anthropic"],
            **extra_settings,
        ),
    ):
        yield fake


async def open_socket(site: Site, member: Member, *, language: str = "") -> WebsocketCommunicator:
    headers = ws_headers(site, cookie=member.cookie)
    if language:
        headers.append((b"accept-language", language.encode()))
    communicator = WebsocketCommunicator(application, "/ws/ask/", headers=headers)
    connected, code = await communicator.connect(timeout=30)
    assert connected, f"socket refused ({code})"
    return communicator


async def frames_until(communicator: WebsocketCommunicator, kind: str, timeout: float = RECEIVE_TIMEOUT) -> list[dict]:
    """Frames up to and including the first of type `kind` (pings answered and left out)."""
    frames: list[dict] = []
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while True:
        frame = await communicator.receive_json_from(timeout=max(0.1, deadline - loop.time()))
        if frame["type"] == "ping":
            await communicator.send_json_to({"type": "pong"})
            continue
        frames.append(frame)
        if frame["type"] == kind:
            return frames


def kinds(frames: list[dict]) -> list[str]:
    return [frame["type"] for frame in frames]
