"""Browser tests: Debian's chromium (never a downloaded browser) driven by Playwright against a live
daphne server and a real Celery worker, both on the session's test services."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest
from playwright.sync_api import Browser, Page, sync_playwright

from config.celery_app import app as celery_app
from tests.portal.conftest import handbook, site  # noqa: F401 - shared fixtures
from tests.portal.live import LivePortal, live_portal
from tests.portal.streams import SUPPORTED_SENTENCES
from tests.support.celery_worker import celery_worker
from tests.support.fake_anthropic import FakeAnthropicServer, StreamScript

CHROMIUM = "/usr/bin/chromium"


@pytest.fixture(scope="module")
def fake_claude() -> Iterator[FakeAnthropicServer]:
    """Claude, played slowly enough that a person (and a test) sees the answer grow."""
    deltas: list[str] = []
    for sentence in SUPPORTED_SENTENCES:
        words = sentence.split(" ")
        deltas += [" ".join(words[: len(words) // 2]) + " ", " ".join(words[len(words) // 2 :]) + " [1][2][3][4]. "]
    with FakeAnthropicServer(default_stream=StreamScript(tokens=deltas, token_delay_seconds=0.25)) as fake:
        yield fake


@pytest.fixture(scope="module")
def worker(site, handbook, django_db_blocker, tmp_path_factory) -> Iterator[None]:  # noqa: F811
    """A real worker for uploads from the browser (the live server enqueues to the broker)."""
    celery_app.conf.task_always_eager = False
    try:
        with (
            django_db_blocker.unblock(),
            celery_worker(log_path=tmp_path_factory.mktemp("worker") / "worker.log", queues="ingestion"),
        ):
            yield
    finally:
        celery_app.conf.task_always_eager = True


@pytest.fixture(scope="module")
def portal(site, handbook, worker, fake_claude, django_db_blocker, tmp_path_factory) -> Iterator[LivePortal]:  # noqa: F811
    extra_env = {
        "ANTHROPIC_API_KEY": "test-key",
        "ANTHROPIC_BASE_URL": fake_claude.base_url,
        "LLM_DEFAULT_ORDER": "anthropic",
    }
    with (
        django_db_blocker.unblock(),
        live_portal(log_path=tmp_path_factory.mktemp("daphne") / "daphne.log", extra_env=extra_env) as server,
    ):
        yield server


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(executable_path=CHROMIUM, headless=True)
        yield chromium
        chromium.close()


@pytest.fixture
def page(portal, site, browser) -> Iterator[Page]:  # noqa: F811 - browser last: its event loop blocks Django queries here
    context = browser.new_context(base_url=portal.url(site.host, ""), viewport={"width": 1200, "height": 860})
    context.set_default_timeout(30_000)
    page = context.new_page()
    refused: list[str] = []
    # Every page must live within the Content-Security-Policy: Chromium reports each refusal.
    page.on("console", lambda message: _note_csp_refusal(message.text, refused))
    yield page
    context.close()
    assert not refused, f"Content-Security-Policy refusals: {refused}"


def _note_csp_refusal(text: str, refused: list[str]) -> None:
    if "Content Security Policy" in text:
        refused.append(text)


@pytest.fixture
def screenshots(tmp_path) -> Path:
    """Where screenshots go: docs/img/ when PORTAL_SCREENSHOTS_DIR says so, else a temporary folder."""
    return Path(os.environ.get("PORTAL_SCREENSHOTS_DIR") or tmp_path)
