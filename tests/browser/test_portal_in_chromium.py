"""A person's path through the portal in Chromium: sign in, upload and watch the job finish, ask
and watch the answer stream in, open a citation, give feedback, switch to German."""

from __future__ import annotations

import re
from concurrent.futures import ThreadPoolExecutor

import pytest
from django.db import connection
from django_tenants.utils import schema_context
from playwright.sync_api import FilePayload, Page, expect

from apps.feedback.models import Feedback
from tests.portal.conftest import member_of

pytestmark = [pytest.mark.browser, pytest.mark.integration, pytest.mark.slow, pytest.mark.usefixtures("committed_db")]

PASSWORD = "a long test password"


def in_thread(function, *args):
    """Database work from a test that drives Playwright: its sync API runs an event loop in this
    thread, where Django refuses synchronous queries."""

    def run():
        try:
            return function(*args)
        finally:
            connection.close()

    with ThreadPoolExecutor(max_workers=1) as pool:
        return pool.submit(run).result()


def feedback_of(site, user) -> list[tuple[int, str]]:
    with schema_context(site.schema):
        return list(Feedback.objects.filter(user=user).values_list("rating", "comment"))


def sign_in(page: Page, site) -> object:
    member = in_thread(member_of, site)
    page.goto("/accounts/login/")
    page.get_by_label("User name").fill(member.user.username)
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Sign in").click()
    expect(page).to_have_url(re.compile(r"/ask/$"))
    return member


def test_upload_two_files_and_watch_their_jobs_finish_live(page, site):
    sign_in(page, site)
    upload_two_files_and_watch_their_jobs(page)

    page.locator("tr", has_text="travel.md").get_by_role("link", name="travel.md").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Travel")
    expect(page.locator(".chunk-text").first).to_contain_text("Train tickets are refunded within 14 days.")


def upload_two_files_and_watch_their_jobs(page: Page) -> None:
    """Upload a good and a broken file on the Upload page and see both jobs end without a reload."""
    page.get_by_role("link", name="Upload", exact=True).click()
    files: list[FilePayload] = [
        {
            "name": "travel.md",
            "mimeType": "text/markdown",
            "buffer": b"# Travel\n\nTrain tickets are refunded within 14 days.",
        },
        {"name": "scan.pdf", "mimeType": "application/pdf", "buffer": b"%PDF-1.7 truncated"},
    ]
    page.set_input_files("input[name=uploads]", files)
    page.get_by_role("button", name="Upload", exact=True).click()
    expect(page.get_by_role("status").first).to_contain_text("2 files received.")
    page.evaluate("window.__sameDocument = true")  # gone if the page reloads

    travel = page.locator("tr", has_text="travel.md")
    scan = page.locator("tr", has_text="scan.pdf")
    expect(travel.locator(".job-status")).to_have_text("Succeeded", timeout=120_000)
    expect(scan.locator(".job-status")).to_have_text("Failed", timeout=120_000)
    expect(scan.locator(".job-error")).not_to_be_empty()
    expect(travel.locator("progress")).to_have_attribute("value", "1")
    assert page.evaluate("window.__sameDocument") is True  # pushed over the socket, not reloaded


def test_ask_watch_the_answer_stream_open_a_citation_and_give_feedback(page, site, screenshots):
    member = sign_in(page, site)
    page.get_by_label("Your question").fill("Which refunds are possible?")
    page.get_by_role("button", name="Ask", exact=True).click()

    answer = page.locator("#answer-text")
    expect(answer).not_to_be_empty(timeout=60_000)
    expect(answer).to_have_attribute("aria-busy", "true")  # still streaming
    partial = answer.text_content() or ""
    page.screenshot(path=str(screenshots / "ask-streaming.png"))

    expect(page.locator("#ask-status")).to_have_text("Answer complete.", timeout=60_000)
    complete = answer.text_content() or ""
    assert partial
    assert len(complete) > len(partial)
    assert complete.startswith(partial.rstrip())
    expect(page.locator("#answer-heading")).to_be_focused()  # keyboard users land on the answer
    page.screenshot(path=str(screenshots / "ask-answer.png"))

    # Thumbs up, with a comment, without leaving the page.
    page.get_by_label("Comment (optional)").fill("Clear and sourced.")
    page.get_by_role("button", name="Helpful", exact=True).click()
    expect(page.locator("#feedback-status")).to_have_text("Thank you for your feedback.")
    assert in_thread(feedback_of, site, member.user) == [(1, "Clear and sourced.")]

    # A citation names its section and unfolds its passage in place, without leaving the answer.
    first = page.locator("#citation-list li").first
    expect(first).to_contain_text("—")
    first.get_by_text("Show passage").click()
    expect(first.locator("blockquote")).to_be_visible()
    expect(first.locator("blockquote")).to_contain_text("refund")

    # A numbered citation opens the document at the cited passage.
    citation = page.locator("#answer-text a.cite").first
    expect(citation).to_have_text("[1]")
    citation.click()
    expect(page).to_have_url(re.compile(r"/documents/\d+/\?chunk=\d+#chunk-\d+$"))
    cited = page.locator(".chunk-cited")
    expect(cited).to_be_visible()
    expect(cited).to_contain_text("refund")


def test_a_near_miss_is_refused_and_links_where_to_look(page, site, fake_claude):
    """Borderline evidence goes to Claude; when it says the passages do not answer, the page shows
    the refusal and the documents that came close, each opening at its passage."""
    sign_in(page, site)
    fake_claude.reply_stream("The passages do not say how much holiday part-timers get.")
    page.get_by_label("Your question").fill("How much holiday do part-timers get?")
    page.get_by_role("button", name="Ask", exact=True).click()

    expect(page.locator("#ask-status")).to_have_text("Answer complete.", timeout=60_000)
    refused = "There is not enough evidence in your documents to answer this."
    expect(page.locator("#answer .notice")).to_have_text(refused)
    related = page.locator("#related")
    expect(related).to_be_visible()
    expect(related.locator("li").first).to_contain_text("Leave and Time Off")
    related.locator("a").first.click()
    expect(page).to_have_url(re.compile(r"/documents/\d+/\?chunk=\d+#chunk-\d+$"))


def test_switch_to_german(page, site):
    sign_in(page, site)
    page.get_by_label("Language").select_option("de")
    page.get_by_role("button", name="Switch").click()
    expect(page.locator("html")).to_have_attribute("lang", "de")
    expect(page.get_by_role("heading", level=1)).to_have_text("Fragen Sie Ihre Dokumente")
    expect(page.get_by_role("link", name="Dokumente", exact=True)).to_be_visible()
    expect(page.get_by_role("button", name="Abmelden")).to_be_visible()


def test_the_api_docs_render_under_the_content_security_policy(page, site):
    response = page.goto("/api/v1/docs/")

    assert response is not None
    assert "script-src 'self'" in response.headers["content-security-policy"]
    expect(page.locator(".swagger-ui .opblock").first).to_be_visible()


def focus_by_tab(page: Page, selector: str, *, limit: int = 40) -> None:
    """Press Tab until `selector` has the focus: it is reachable from the keyboard, in order."""
    target = page.locator(selector)
    for _ in range(limit):
        if target.evaluate("element => element === document.activeElement"):
            return
        page.keyboard.press("Tab")
    raise AssertionError(f"{selector} is not reachable with Tab")


def test_ask_stop_and_feedback_work_from_the_keyboard_alone(page, site):
    member = sign_in(page, site)
    expect(page.get_by_label("Your question")).to_be_focused()  # the page opens ready to type
    page.keyboard.type("Which refunds are possible?")
    focus_by_tab(page, "#ask-submit")
    page.keyboard.press("Enter")
    expect(page.locator("#ask-stop")).to_be_focused()  # Ask is disabled while streaming; Stop has the focus
    expect(page.locator("#answer-text")).not_to_be_empty(timeout=60_000)
    page.keyboard.press("Enter")
    expect(page.locator("#ask-status")).to_have_text("Stopped.", timeout=30_000)

    page.get_by_label("Your question").focus()
    focus_by_tab(page, "#ask-submit")
    page.keyboard.press("Enter")
    expect(page.locator("#ask-status")).to_have_text("Answer complete.", timeout=60_000)
    expect(page.locator("#answer-heading")).to_be_focused()
    focus_by_tab(page, "#feedback-comment")
    page.keyboard.type("Reached without a mouse.")
    focus_by_tab(page, "#feedback-form button[value='1']")
    page.keyboard.press("Enter")
    expect(page.locator("#feedback-status")).to_have_text("Thank you for your feedback.")
    assert in_thread(feedback_of, site, member.user) == [(1, "Reached without a mouse.")]
