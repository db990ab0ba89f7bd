"""`make run` once served every page without its stylesheet and script while every test was green:
the tests' server had static serving switched on by hand. This test runs the portal with the
settings `make run` uses (config.settings.local, DEBUG on) and fails when a page loads without them."""

from __future__ import annotations

import re
from collections.abc import Iterator
from contextlib import contextmanager
from functools import partial

import pytest
from playwright.sync_api import Browser, Page, expect

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


def test_the_upload_page_of_make_run_shows_its_jobs_finish_live(make_run_portal, site, browser: Browser, screenshots):  # noqa: F811
    """Under `make run` the Upload page's live job status once never moved: its script was not served."""
    with _signed_in(make_run_portal, site, browser) as page:
        upload_two_files_and_watch_their_jobs(page)
        page.screenshot(path=str(screenshots / "upload.png"), full_page=True)


def _note_static(response, seen: dict[str, int]) -> None:
    path = response.url.split("?", 1)[0]
    if "/static/" in path:
        seen[path] = response.status


def test_a_three_turn_conversation_then_every_page_in_a_screenshot(
    make_run_portal,
    site,  # noqa: F811
    browser: Browser,
    screenshots,
):
    """The offline answerer of `make run` (no API key) answers follow-ups from their thread; then
    History, the thread, Documents, a document with its viewers and the compliance admin, each
    photographed (`make screenshots` writes them to docs/img/)."""
    with _signed_in(make_run_portal, site, browser, superuser=True) as page:
        _three_turns(page)
        page.screenshot(path=str(screenshots / "ask-conversation.png"), full_page=True)
        _a_new_conversation_starts_without_the_thread(page)
        page.get_by_role("link", name="History", exact=True).click()
        expect(page.get_by_role("heading", name="Your conversations")).to_be_visible()
        page.screenshot(path=str(screenshots / "history.png"), full_page=True)
        page.get_by_role("link", name="How many vacation days do I get per year?").first.click()
        expect(page.locator(".turn")).to_have_count(3)
        page.screenshot(path=str(screenshots / "history-conversation.png"), full_page=True)
        page.get_by_role("link", name="Documents", exact=True).click()
        page.screenshot(path=str(screenshots / "documents.png"), full_page=True)
        page.get_by_role("link", name="Leave and Time Off").first.click()
        expect(page.locator(".chunk").first).to_be_visible()
        page.screenshot(path=str(screenshots / "document.png"), full_page=True)
        page.set_viewport_size({"width": 1600, "height": 900})  # the admin's list is wide
        page.goto("/admin/answers/querylog/")
        expect(page.locator("#result_list")).to_contain_text("And for part-timers?")
        page.screenshot(path=str(screenshots / "compliance-query-log.png"), full_page=True)


@contextmanager
def _signed_in(portal: LivePortal, site, browser: Browser, *, superuser: bool = False) -> Iterator[Page]:  # noqa: F811
    context = browser.new_context(base_url=portal.url(site.host, ""), viewport={"width": 1100, "height": 800})
    try:
        # Signed in by session cookie: the tests' fast password hasher is not one make run accepts.
        member = in_thread(partial(member_of, superuser=superuser, staff=superuser), site)
        context.add_cookies([{"name": "sessionid", "value": member.session_key, "url": portal.url(site.host)}])
        page = context.new_page()
        page.goto("/ask/")
        yield page
    finally:
        context.close()


def _three_turns(page: Page) -> None:
    question, status, answer = (
        page.get_by_label("Your question"),
        page.locator("#ask-status"),
        page.locator("#answer-text"),
    )
    turns = [
        ("How many vacation days do I get per year?", "28 days", ""),
        ("And for part-timers?", "pro rata", "How many vacation days do I get per year, for part-timers?"),
        ("Can I carry them over to next year?", "5 unused days", "Can I carry the vacation days over to next year?"),
    ]
    for number, (asked, fact, understood) in enumerate(turns):
        question.fill(asked)
        page.get_by_role("button", name="Ask", exact=True).click()
        expect(status).to_have_text("Answer complete.", timeout=60_000)
        expect(answer).to_contain_text(fact)
        expect(page.locator("#answer-question")).to_have_text(asked)
        expect(page.locator("#thread-list li")).to_have_count(number)  # the earlier turns, above the form
        if understood:
            expect(page.locator("#answer-understood-text")).to_have_text(understood)
        expect(question).to_have_value("")  # ready for the next follow-up
    expect(page.locator("#thread-list li").first).to_contain_text("28 days")


def _a_new_conversation_starts_without_the_thread(page: Page) -> None:
    question, status = page.get_by_label("Your question"), page.locator("#ask-status")
    page.get_by_role("link", name="New conversation").click()
    expect(page.locator("#thread")).to_be_hidden()
    question.fill("And for part-timers?")
    page.get_by_role("button", name="Ask", exact=True).click()
    expect(status).to_have_text("Answer complete.", timeout=60_000)
    expect(page.locator("#answer-understood")).to_be_hidden()
