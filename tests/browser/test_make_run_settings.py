"""`make run` once served every page without its stylesheet and script while every test was green:
the tests' server had static serving switched on by hand. This test runs the portal with the
settings `make run` uses (config.settings.local, DEBUG on) and fails when a page loads without them."""

from __future__ import annotations

import re
from collections.abc import Iterator

import pytest
from playwright.sync_api import Browser, expect

from tests.portal.conftest import handbook, member_of, site  # noqa: F401 - shared fixtures
from tests.portal.live import LivePortal, live_portal

from .test_portal_in_chromium import in_thread, upload_two_files_and_watch_their_jobs

pytestmark = [pytest.mark.browser, pytest.mark.integration, pytest.mark.slow, pytest.mark.usefixtures("committed_db")]


@pytest.fixture(scope="module")
def make_run_portal(site, handbook, worker, django_db_blocker, tmp_path_factory) -> Iterator[LivePortal]:  # noqa: F811
    settings_of_make_run = {"DJANGO_SETTINGS_MODULE": "config.settings.local", "DEBUG": "true"}
    with (
        django_db_blocker.unblock(),
        live_portal(
            log_path=tmp_path_factory.mktemp("make-run") / "daphne.log", extra_env=settings_of_make_run
        ) as server,
    ):
        yield server


def test_the_pages_of_make_run_load_their_stylesheet_and_script(make_run_portal, site, browser: Browser):  # noqa: F811
    context = browser.new_context(base_url=make_run_portal.url(site.host, ""))
    page = context.new_page()
    static: dict[str, int] = {}
    page.on("response", lambda response: _note_static(response, static))
    try:
        # Signed in by session cookie: the tests' fast password hasher is not one make run accepts.
        member = in_thread(member_of, site)
        context.add_cookies([{"name": "sessionid", "value": member.session_key, "url": make_run_portal.url(site.host)}])
        page.goto("/ask/")
        expect(page).to_have_url(re.compile(r"/ask/$"))
        expect(page.locator("#ask-form")).to_be_visible()
        styled = page.evaluate("() => getComputedStyle(document.body).fontFamily")
        script_ran = page.evaluate("() => document.documentElement.classList.contains('js')")
    finally:
        context.close()

    assert any(path.endswith(".css") for path in static), static
    assert any(path.endswith(".js") for path in static), static
    assert all(status == 200 for status in static.values()), static
    assert "Times" not in styled  # the portal's own font stack, not the browser's default
    assert script_ran


def test_the_upload_page_of_make_run_shows_its_jobs_finish_live(make_run_portal, site, browser: Browser):  # noqa: F811
    """Under `make run` the Upload page's live job status once never moved: its script was not served."""
    context = browser.new_context(base_url=make_run_portal.url(site.host, ""))
    page = context.new_page()
    try:
        member = in_thread(member_of, site)
        context.add_cookies([{"name": "sessionid", "value": member.session_key, "url": make_run_portal.url(site.host)}])
        page.goto("/ask/")
        upload_two_files_and_watch_their_jobs(page)
    finally:
        context.close()


def _note_static(response, seen: dict[str, int]) -> None:
    path = response.url.split("?", 1)[0]
    if "/static/" in path:
        seen[path] = response.status
