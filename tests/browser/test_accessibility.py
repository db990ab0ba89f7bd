"""axe-core (the engine behind Lighthouse's accessibility audit) on every page a person uses:
no violation of serious or critical impact (issue 20). Run in Chromium against the live portal,
signed in and, for the answer, after a streamed answer with its citations."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from axe_playwright_python.sync_playwright import Axe
from playwright.sync_api import Browser, Page, expect

from tests.portal.conftest import handbook, member_of, site  # noqa: F401 - shared fixtures

from .test_portal_in_chromium import in_thread

pytestmark = [pytest.mark.browser, pytest.mark.integration, pytest.mark.slow, pytest.mark.usefixtures("committed_db")]

BLOCKING = {"serious", "critical"}


@pytest.fixture
def signed_in(portal, site, browser: Browser) -> Iterator[Page]:  # noqa: F811
    # axe is injected as a script, which the portal's Content-Security-Policy rightly refuses.
    context = browser.new_context(base_url=portal.url(site.host, ""), bypass_csp=True)
    context.set_default_timeout(30_000)
    member = in_thread(member_of, site)
    context.add_cookies([{"name": "sessionid", "value": member.session_key, "url": portal.url(site.host)}])
    yield context.new_page()
    context.close()


def violations(page: Page) -> list[str]:
    found = Axe().run(page).response["violations"]
    return [
        f"{item['id']} ({item['impact']}): {item['help']} at {[node['target'] for node in item['nodes']][:3]}"
        for item in found
        if item["impact"] in BLOCKING
    ]


@pytest.mark.parametrize("path", ["/ask/", "/documents/", "/documents/upload/", "/history/"])
def test_a_page_has_no_serious_accessibility_violation(signed_in, path):
    signed_in.goto(path)

    assert violations(signed_in) == []


def test_an_answer_with_its_citations_has_no_serious_accessibility_violation(signed_in):
    signed_in.goto("/ask/")
    signed_in.get_by_label("Your question").fill("Which refunds are possible?")
    signed_in.get_by_role("button", name="Ask", exact=True).click()
    expect(signed_in.locator("#citation-list li").first).to_be_visible(timeout=60_000)

    assert violations(signed_in) == []


def test_a_conversation_and_its_history_page_have_no_serious_accessibility_violation(signed_in):
    signed_in.goto("/ask/")
    for question in ("Which refunds are possible?", "And for annual subscriptions?"):
        signed_in.get_by_label("Your question").fill(question)
        signed_in.get_by_role("button", name="Ask", exact=True).click()
        expect(signed_in.locator("#ask-status")).to_have_text("Answer complete.", timeout=60_000)
    expect(signed_in.locator("#thread-list li")).to_have_count(1)
    assert violations(signed_in) == []

    signed_in.goto("/history/")
    signed_in.locator("table a").first.click()
    expect(signed_in.locator(".turn")).to_have_count(2)
    assert violations(signed_in) == []


def violations_of_anonymous_page(browser: Browser, *, base_url: str | None = None, goto: str = "", html: str = ""):
    """axe on a page opened without signing in: `goto` a path of `base_url`, or `html` set directly."""
    context = browser.new_context(base_url=base_url, bypass_csp=True)
    page = context.new_page()
    try:
        page.goto(goto) if goto else page.set_content(html)
        return violations(page)
    finally:
        context.close()


def test_the_sign_in_page_has_no_serious_accessibility_violation(portal, site, browser: Browser):  # noqa: F811
    assert violations_of_anonymous_page(browser, base_url=portal.url(site.host, ""), goto="/accounts/login/") == []


def test_the_check_itself_finds_a_serious_violation(browser: Browser):
    """Guards the tests above against passing because axe never ran."""
    found = violations_of_anonymous_page(
        browser, html='<html lang="en"><title>t</title><main><img src="x.png"></main></html>'
    )

    assert any(line.startswith("image-alt (critical)") for line in found), found
