"""Signing in: by password (unless the tenant switched it off) or through the company's identity
provider over OpenID Connect (apps/portal/sso.py; docs/identity.md)."""

from __future__ import annotations

import logging
import re

from authlib.common.errors import AuthlibBaseError
from django.contrib.auth import login
from django.contrib.auth import views as auth_views
from django.db import connection
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.shortcuts import render, resolve_url
from django.urls import reverse
from django.utils.http import url_has_allowed_host_and_scheme
from django.utils.translation import gettext as _
from django.views.decorators.http import require_GET
from joserfc.errors import JoseError
from requests import RequestException

from apps.accounts.directory import directory_name_normalised
from apps.accounts.directory_sign_in import SignInRefused, VerifiedClaims, directory_user_sign_in
from apps.audit.models import AuditEvent
from apps.audit.services import audit_event_record
from apps.tenants.models import TenantSettings
from apps.tenants.selectors import tenant_settings_get

from ..sso import SsoUnavailable, sso_client, sso_scopes

logger = logging.getLogger(__name__)

NEXT_SESSION_KEY = "sso_next"
USERNAME_ALLOWED = re.compile(r"[\w.@+-]{1,150}")


def _tenant_settings() -> TenantSettings:
    return tenant_settings_get(schema_name=connection.schema_name)  # type: ignore[attr-defined]


class SignInView(auth_views.LoginView):
    """Django's login view, which also offers the identity provider and refuses passwords where the
    tenant switched them off (the backend refuses them too: apps.tenants.backends)."""

    template_name = "portal/login.html"
    redirect_authenticated_user = True
    next_page = "portal:ask"

    def get_context_data(self, **kwargs):
        return {**super().get_context_data(**kwargs), **_sign_in_choices(kwargs.get("sso_error", ""))}

    def post(self, request, *args, **kwargs):
        if not _tenant_settings().password_sign_in_enabled:
            message = _("Passwords are switched off here: sign in with your company account.")
            return self.render_to_response(self.get_context_data(sso_error=message), status=403)
        return super().post(request, *args, **kwargs)


@require_GET
def sso_start(request: HttpRequest) -> HttpResponse:
    """Send the browser to the identity provider with a fresh state, nonce and PKCE challenge."""
    row = _tenant_settings()
    try:
        client = sso_client(row)
        scope = sso_scopes(client, row.sso_groups_claim)
    except SsoUnavailable as error:
        return _refused(request, str(error), code="unavailable", status=503)
    next_url = request.GET.get("next", "")
    safe = url_has_allowed_host_and_scheme(next_url, {request.get_host()}, require_https=request.is_secure())
    request.session[NEXT_SESSION_KEY] = next_url if safe else ""
    redirect_uri = request.build_absolute_uri(reverse("portal:sso_callback"))
    return client.authorize_redirect(request, redirect_uri, scope=scope)


@require_GET
def sso_callback(request: HttpRequest) -> HttpResponse:
    """The provider's answer: exchange the code, verify the ID token, sign the person in."""
    row = _tenant_settings()
    try:
        client = sso_client(row)
        token = client.authorize_access_token(
            request, claims_options={"iss": {"essential": True, "values": [row.sso_issuer, f"{row.sso_issuer}/"]}}
        )
    except SsoUnavailable as error:
        return _refused(request, str(error), code="unavailable", status=503)
    except (AuthlibBaseError, JoseError, RequestException, ValueError) as error:
        logger.info("single sign-on refused: %s", type(error).__name__)
        return _refused(request, _token_problem(error), code="invalid_token")
    claims = token.get("userinfo")
    if not claims:
        return _refused(request, _("The identity provider sent no ID token."), code="invalid_token")
    try:
        verified = _verified_claims(row, dict(claims))
        result = directory_user_sign_in(verified)
    except SignInRefused as refusal:
        return _refused(request, refusal.reason, code=refusal.code, subject=str(claims.get("sub", "")))
    login(request, result.user, backend="django.contrib.auth.backends.ModelBackend")
    audit_event_record(
        action="auth.sso.sign_in",
        actor=result.user,
        target=result.user,
        details={"issuer": row.sso_issuer, "created": result.created, "groups": result.group_changes},
    )
    next_url = request.session.pop(NEXT_SESSION_KEY, "")
    return HttpResponseRedirect(next_url or resolve_url("portal:ask"))


def _verified_claims(row: TenantSettings, claims: dict) -> VerifiedClaims:
    email = str(claims.get("email") or "").strip().lower()
    allowed = row.sso_allowed_email_domains
    if allowed:
        domain = email.rpartition("@")[2]
        if not email or domain not in allowed or claims.get("email_verified") is False:
            raise SignInRefused(_("Your e-mail address is not one this company signs in with."), code="domain")
    username = directory_name_normalised(str(claims.get("preferred_username") or email or claims.get("sub") or ""))
    if not USERNAME_ALLOWED.fullmatch(username):
        raise SignInRefused(_("The identity provider sent a user name this portal cannot use."), code="username")
    groups = claims.get(row.sso_groups_claim) if row.sso_groups_claim else None
    if isinstance(groups, str):
        groups = [groups]
    return VerifiedClaims(
        issuer=row.sso_issuer,
        subject=str(claims["sub"]),
        username=username,
        email=email,
        first_name=str(claims.get("given_name") or ""),
        last_name=str(claims.get("family_name") or ""),
        groups=tuple(str(group) for group in groups) if isinstance(groups, list) else None,
    )


def _token_problem(error: Exception) -> str:
    name = type(error).__name__
    if "State" in name:
        return _("This sign-in was not started here, or it was already used. Please start again.")
    if "Nonce" in name or "nonce" in str(error):
        return _("The identity provider's answer does not belong to this sign-in.")
    return _("The identity provider's answer could not be verified.")


def _refused(request: HttpRequest, reason: str, *, code: str, status: int = 400, subject: str = "") -> HttpResponse:
    audit_event_record(
        action="auth.sso.refused",
        target=subject or "single sign-on",
        request=request,
        details={"code": code, "reason": reason},
        outcome=AuditEvent.Outcome.FAILURE,
    )
    return render(request, "portal/login.html", {**_sign_in_choices(reason), "form": None}, status=status)


def _sign_in_choices(error: str) -> dict:
    """What the sign-in page offers in this tenant, and the refusal to show, if any."""
    row = _tenant_settings()
    return {
        "sso_enabled": row.sso_enabled,
        "sso_name": row.sso_display_name or _("your company account"),
        "password_enabled": row.password_sign_in_enabled,
        "sso_error": error,
    }
