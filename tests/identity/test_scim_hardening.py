"""SCIM hardening from the attack passes: who makes tokens and how long they live, look-alike names,
ids in other scripts, groups made in the portal."""

from __future__ import annotations

import pytest
from django.contrib.auth.models import Group
from django_tenants.utils import schema_context

from apps.accounts.models import User
from tests.api.conftest import ALPHA_HOST

from .conftest import PATCH, okta_user, scim_token

pytestmark = pytest.mark.integration


def test_only_superusers_make_tokens_and_a_token_lapses_with_its_creator(scim, tenant_alpha):
    """Sixth attack pass: a tenant admin's token let her rename superusers, and survived her
    demotion and deprovisioning (she reactivated herself with it)."""
    from django.core.exceptions import PermissionDenied

    from apps.accounts.directory import user_deprovision
    from apps.api.scim.tokens import scim_token_create
    from tests.api.conftest import tenant_user

    admin = tenant_user(tenant_alpha, admin=True, username="tenant-admin")
    boss = tenant_user(tenant_alpha, username="boss", is_superuser=True, is_staff=True)
    with schema_context(tenant_alpha.schema_name):
        with pytest.raises(PermissionDenied):
            scim_token_create(name="mine", actor=admin)
        token = scim_token_create(name="Okta", actor=boss)[1]
    assert scim.get("/scim/v2/Users", host=ALPHA_HOST, token=token).status_code == 200
    with schema_context(tenant_alpha.schema_name):
        User.objects.filter(pk=boss.pk).update(is_superuser=False)
    assert scim.get("/scim/v2/Users", host=ALPHA_HOST, token=token).status_code == 401
    with schema_context(tenant_alpha.schema_name):
        User.objects.filter(pk=boss.pk).update(is_superuser=True)
        assert scim.get("/scim/v2/Users", host=ALPHA_HOST, token=token).status_code == 200
        user_deprovision(user=User.objects.get(pk=boss.pk), actor="test", reason="left")
        from apps.accounts.models import ScimToken

        assert ScimToken.objects.get(created_by=boss).revoked_at is not None
    User.objects.filter(pk=boss.pk).update(is_active=True)
    assert scim.get("/scim/v2/Users", host=ALPHA_HOST, token=token).status_code == 401


def test_a_group_made_in_the_portal_is_not_taken_over_by_name(scim, tenant_alpha):
    token = scim_token(tenant_alpha)
    with schema_context(tenant_alpha.schema_name):
        board = Group.objects.create(name="Board")
        member = User.objects.get(username="admin")
        board.user_set.add(member)
    for name in ("Board", "board", "Board\u00a0"):
        response = scim.post("/scim/v2/Groups", {"displayName": name}, host=ALPHA_HOST, token=token)
        assert response.status_code == 409, name
    with schema_context(tenant_alpha.schema_name):
        assert list(board.user_set.all()) == [member]


@pytest.mark.parametrize("path", ["/scim/v2/Users/%C2%B2", "/scim/v2/Groups/%C2%B3"])
def test_ids_in_other_scripts_are_not_found_not_errors(scim, tenant_alpha, path):
    token = scim_token(tenant_alpha)
    assert scim.get(path, host=ALPHA_HOST, token=token).status_code == 404
    arabic_three = scim.post(
        "/scim/v2/Groups", {"displayName": "Ops", "members": [{"value": "\u0663"}]}, host=ALPHA_HOST, token=token
    )
    assert arabic_three.status_code == 400
    listed = scim.get("/scim/v2/Users", host=ALPHA_HOST, token=token, data={"startIndex": "\u00b2"})
    assert listed.status_code == 400


def test_names_differing_only_in_case_clash_and_a_put_without_active_keeps_it(scim, tenant_alpha):
    token = scim_token(tenant_alpha)
    assert (
        scim.post("/scim/v2/Users", okta_user("x", userName="ADMIN"), host=ALPHA_HOST, token=token).status_code == 409
    )
    created = scim.post("/scim/v2/Users", okta_user("mo"), host=ALPHA_HOST, token=token).json()
    off = {"schemas": [PATCH], "Operations": [{"op": "replace", "value": {"active": False}}]}
    scim.patch(f"/scim/v2/Users/{created['id']}", off, host=ALPHA_HOST, token=token)
    body = {key: value for key, value in okta_user("mo").items() if key != "active"}
    replaced = scim.put(f"/scim/v2/Users/{created['id']}", body, host=ALPHA_HOST, token=token)
    assert replaced.status_code == 200
    assert replaced.json()["active"] is False


def test_a_token_whose_maker_was_deleted_is_dead(scim, tenant_alpha):
    from apps.api.scim.tokens import scim_token_create
    from tests.api.conftest import tenant_user

    maker = tenant_user(tenant_alpha, username="gone-boss", is_superuser=True, is_staff=True)
    with schema_context(tenant_alpha.schema_name):
        token = scim_token_create(name="Okta", actor=maker)[1]
        User.objects.filter(pk=maker.pk).delete()
    assert scim.get("/scim/v2/Users", host=ALPHA_HOST, token=token).status_code == 401


@pytest.mark.parametrize(
    "name", ["Tenant admins\u200b", "\u200bEmployees", "Compliance\ufeff", "Tenant\u00a0\u00adadmins"]
)
def test_invisible_characters_make_no_look_alike_of_a_role(scim, tenant_alpha, name):
    response = scim.post("/scim/v2/Groups", {"displayName": name}, host=ALPHA_HOST, token=scim_token(tenant_alpha))
    assert response.status_code == 409


def test_full_width_letters_make_no_look_alike_of_a_local_account(scim, tenant_alpha):
    full_width_admin = "\uff41\uff44\uff4d\uff49\uff4e"
    response = scim.post(
        "/scim/v2/Users", okta_user("x", userName=full_width_admin), host=ALPHA_HOST, token=scim_token(tenant_alpha)
    )
    assert response.status_code == 409


@pytest.mark.parametrize("suffix", ["\u034f", "\ufe0f", "\u3164", "\u1160"])
def test_marks_and_fillers_make_no_look_alike_either(scim, tenant_alpha, suffix):
    """Eighth attack pass: a grapheme joiner, a variation selector or a Hangul filler is not a
    format character, yet reads as nothing."""
    token = scim_token(tenant_alpha)
    assert (
        scim.post("/scim/v2/Groups", {"displayName": f"Employees{suffix}"}, host=ALPHA_HOST, token=token).status_code
        == 409
    )
    user = scim.post("/scim/v2/Users", okta_user("x", userName=f"ad{suffix}min"), host=ALPHA_HOST, token=token)
    assert user.status_code == 409
