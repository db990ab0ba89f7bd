"""Single sign-on test steps (the `provider` and `browser` fixtures are in conftest.py)."""

from __future__ import annotations

from urllib.parse import parse_qs, urlsplit

from django.contrib.sessions.backends.db import SessionStore
from django_tenants.utils import schema_context

from apps.accounts.models import User
from tests.api.conftest import ALPHA_HOST

SECRET_VARIABLE = "OIDC_CLIENT_SECRET_ALPHA"


def claims_for(name: str, **extra) -> dict:
    return {
        "sub": f"00u-{name}",
        "email": f"{name}@example.com",
        "email_verified": True,
        "preferred_username": f"{name}@example.com",
        "given_name": name.title(),
        "groups": ["Engineering"],
        **extra,
    }


def sign_in(browser, provider, claims: dict, *, next_url: str = "", signing_key=None, state: str | None = None):
    start = browser.get("/accounts/sso/start/", {"next": next_url} if next_url else {}, HTTP_HOST=ALPHA_HOST)
    assert start.status_code == 302, start.content
    params = parse_qs(urlsplit(start["Location"]).query)
    code = provider.approve(params, claims=claims, signing_key=signing_key)
    return browser.get(
        "/accounts/oidc/callback/", {"code": code, "state": state or params["state"][0]}, HTTP_HOST=ALPHA_HOST
    )


def signed_in_as(browser) -> str | None:
    response = browser.get("/api/v1/history", HTTP_HOST=ALPHA_HOST)
    if response.status_code != 200:
        return None
    with schema_context("alpha"):
        session = SessionStore(session_key=browser.cookies["sessionid"].value)
        return User.objects.get(pk=session["_auth_user_id"]).username
