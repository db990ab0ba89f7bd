"""SCIM 2.0 provisioning as Okta and Entra ID drive it: users, groups, deprovisioning, bad input."""

from __future__ import annotations

import json

import pytest
from django.contrib.auth.models import Group
from django.contrib.sessions.backends.db import SessionStore
from django.contrib.sessions.models import Session
from django_tenants.utils import schema_context

from apps.accounts.models import DirectoryIdentity, User
from apps.accounts.roles import TENANT_ADMINS_GROUP
from apps.api.models import ApiKey
from apps.audit.models import AuditEvent
from apps.documents.acl import group_principal, principals_for_user
from tests.api.conftest import ALPHA_HOST, BETA_HOST, make_key

from .conftest import PATCH, okta_user, scim_token

pytestmark = pytest.mark.integration


def test_without_a_valid_token_nothing_is_served(scim, tenant_alpha):
    for headers in ({}, {"HTTP_AUTHORIZATION": "Bearer scim_0123456789ab_" + "x" * 43}):
        response = scim.get("/scim/v2/Users", host=ALPHA_HOST, **headers)
        assert response.status_code == 401
        assert response.json()["schemas"] == ["urn:ietf:params:scim:api:messages:2.0:Error"]
        assert response["WWW-Authenticate"].startswith("Bearer")


def test_a_token_opens_its_own_tenant_only_and_revocation_is_immediate(scim, tenant_alpha, tenant_beta):
    token = scim_token(tenant_alpha)
    assert scim.get("/scim/v2/Users", host=ALPHA_HOST, token=token).status_code == 200
    assert scim.get("/scim/v2/Users", host=BETA_HOST, token=token).status_code == 401
    from apps.accounts.models import ScimToken
    from apps.api.scim.tokens import scim_token_revoke

    with schema_context(tenant_alpha.schema_name):
        scim_token_revoke(token=ScimToken.objects.get(), actor="test")
    assert scim.get("/scim/v2/Users", host=ALPHA_HOST, token=token).status_code == 401


def test_okta_creates_finds_and_deactivates_a_user(scim, tenant_alpha):
    token = scim_token(tenant_alpha)
    found = scim.get("/scim/v2/Users", host=ALPHA_HOST, token=token, data={"filter": 'userName eq "dana@example.com"'})
    assert found.json()["totalResults"] == 0
    created = scim.post("/scim/v2/Users", okta_user("dana"), host=ALPHA_HOST, token=token)
    assert created.status_code == 201, created.content
    resource = created.json()
    assert resource["userName"] == "dana@example.com"
    assert resource["active"] is True
    assert resource["name"] == {"givenName": "Dana", "familyName": "Example"}
    found = scim.get("/scim/v2/Users", host=ALPHA_HOST, token=token, data={"filter": 'userName eq "DANA@example.com"'})
    assert [item["id"] for item in found.json()["Resources"]] == [resource["id"]]

    with schema_context(tenant_alpha.schema_name):
        user = User.objects.get(pk=resource["id"])
        assert not user.has_usable_password()
        session = SessionStore()
        session["_auth_user_id"] = str(user.pk)
        session.create()
    key = make_key(tenant_alpha, user, scopes=("query",), created_by=user)
    assert scim.get("/api/v1/history", host=ALPHA_HOST, HTTP_X_API_KEY=key).status_code == 200

    body = {"schemas": [PATCH], "Operations": [{"op": "replace", "value": {"active": False}}]}
    patched = scim.patch(f"/scim/v2/Users/{resource['id']}", body, host=ALPHA_HOST, token=token)
    assert patched.status_code == 200
    assert patched.json()["active"] is False
    with schema_context(tenant_alpha.schema_name):
        assert not User.objects.get(pk=user.pk).is_active
        assert not Session.objects.filter(session_key=session.session_key).exists()
        assert ApiKey.objects.get(user_id=user.pk).revoked_at is not None
        event = AuditEvent.objects.filter(action="user.deprovision").latest("id")
        assert event.actor_label == "scim:Okta"
        assert event.target_id == str(user.pk)
    assert scim.get("/api/v1/history", host=ALPHA_HOST, HTTP_X_API_KEY=key).status_code == 401


def test_entra_id_patches_with_paths_and_string_booleans(scim, tenant_alpha):
    token = scim_token(tenant_alpha, name="Entra ID")
    created = scim.post("/scim/v2/Users", okta_user("erin", externalId="8f1c-aad"), host=ALPHA_HOST, token=token)
    user_id = created.json()["id"]
    found = scim.get("/scim/v2/Users", host=ALPHA_HOST, token=token, data={"filter": 'externalId eq "8f1c-aad"'})
    assert found.json()["totalResults"] == 1
    body = {
        "schemas": [PATCH],
        "Operations": [
            {"op": "Replace", "path": 'emails[type eq "work"].value', "value": "erin.new@example.com"},
            {"op": "Replace", "path": "name.givenName", "value": "Erin-Marie"},
            {
                "op": "Add",
                "path": "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:department",
                "value": "R&D",
            },
            {"op": "Replace", "path": "active", "value": "False"},
        ],
    }
    patched = scim.patch(f"/scim/v2/Users/{user_id}", body, host=ALPHA_HOST, token=token)
    assert patched.status_code == 200, patched.content
    assert patched.json()["emails"][0]["value"] == "erin.new@example.com"
    assert patched.json()["name"]["givenName"] == "Erin-Marie"
    assert patched.json()["active"] is False
    reactivated = scim.patch(
        f"/scim/v2/Users/{user_id}",
        {"schemas": [PATCH], "Operations": [{"op": "Replace", "path": "active", "value": "True"}]},
        host=ALPHA_HOST,
        token=token,
    )
    assert reactivated.json()["active"] is True


def test_delete_deactivates_keeps_the_account_and_hides_it_from_scim(scim, tenant_alpha):
    token = scim_token(tenant_alpha)
    user_id = scim.post("/scim/v2/Users", okta_user("finn"), host=ALPHA_HOST, token=token).json()["id"]
    assert scim.delete(f"/scim/v2/Users/{user_id}", host=ALPHA_HOST, token=token).status_code == 204
    assert scim.get(f"/scim/v2/Users/{user_id}", host=ALPHA_HOST, token=token).status_code == 404
    with schema_context(tenant_alpha.schema_name):
        assert not User.objects.get(pk=user_id).is_active
    again = scim.post("/scim/v2/Users", okta_user("finn"), host=ALPHA_HOST, token=token)
    assert again.status_code == 201
    assert again.json()["id"] == user_id
    assert again.json()["active"] is True


def test_local_accounts_are_invisible_and_untouchable(scim, tenant_alpha):
    token = scim_token(tenant_alpha)
    with schema_context(tenant_alpha.schema_name):
        admin = User.objects.get(username="admin")
    assert scim.get(f"/scim/v2/Users/{admin.pk}", host=ALPHA_HOST, token=token).status_code == 404
    assert (
        scim.get("/scim/v2/Users", host=ALPHA_HOST, token=token, data={"filter": 'userName eq "admin"'}).json()[
            "totalResults"
        ]
        == 0
    )
    body = {"schemas": [PATCH], "Operations": [{"op": "replace", "value": {"active": False}}]}
    assert scim.patch(f"/scim/v2/Users/{admin.pk}", body, host=ALPHA_HOST, token=token).status_code == 404
    clash = scim.post("/scim/v2/Users", okta_user("x", userName="admin"), host=ALPHA_HOST, token=token)
    assert clash.status_code == 409
    assert clash.json()["scimType"] == "uniqueness"
    with schema_context(tenant_alpha.schema_name):
        assert User.objects.get(pk=admin.pk).is_active
        assert not DirectoryIdentity.objects.filter(user=admin).exists()


def test_group_membership_follows_okta_and_entra_and_applies_to_the_next_question(scim, tenant_alpha):
    token = scim_token(tenant_alpha)
    ids = [scim.post("/scim/v2/Users", okta_user(name), host=ALPHA_HOST, token=token).json()["id"] for name in "gh"]
    created = scim.post(
        "/scim/v2/Groups",
        {
            "schemas": ["urn:ietf:params:scim:schemas:core:2.0:Group"],
            "displayName": "Engineering",
            "members": [{"value": ids[0]}],
        },
        host=ALPHA_HOST,
        token=token,
    )
    assert created.status_code == 201, created.content
    group_id = created.json()["id"]
    principal = group_principal(int(group_id))

    def holds(user_id: str) -> bool:
        with schema_context(tenant_alpha.schema_name):
            return principal in principals_for_user(User.objects.get(pk=user_id))

    assert holds(ids[0])
    assert not holds(ids[1])
    okta_add = {"schemas": [PATCH], "Operations": [{"op": "add", "path": "members", "value": [{"value": ids[1]}]}]}
    assert scim.patch(f"/scim/v2/Groups/{group_id}", okta_add, host=ALPHA_HOST, token=token).status_code == 204
    assert holds(ids[1])
    okta_remove = {"schemas": [PATCH], "Operations": [{"op": "remove", "path": f'members[value eq "{ids[0]}"]'}]}
    assert scim.patch(f"/scim/v2/Groups/{group_id}", okta_remove, host=ALPHA_HOST, token=token).status_code == 204
    assert not holds(ids[0])
    assert holds(ids[1])
    entra_remove = {
        "schemas": [PATCH],
        "Operations": [{"op": "Remove", "path": "members", "value": [{"value": ids[1]}]}],
    }
    assert scim.patch(f"/scim/v2/Groups/{group_id}", entra_remove, host=ALPHA_HOST, token=token).status_code == 204
    assert not holds(ids[1])
    rename = {"schemas": [PATCH], "Operations": [{"op": "Replace", "path": "displayName", "value": "Platform"}]}
    assert scim.patch(f"/scim/v2/Groups/{group_id}", rename, host=ALPHA_HOST, token=token).status_code == 204
    listed = scim.get(
        "/scim/v2/Groups",
        host=ALPHA_HOST,
        token=token,
        data={"filter": 'displayName eq "Platform"', "excludedAttributes": "members"},
    ).json()
    assert [(item["id"], "members" in item) for item in listed["Resources"]] == [(group_id, False)]
    assert scim.delete(f"/scim/v2/Groups/{group_id}", host=ALPHA_HOST, token=token).status_code == 204
    with schema_context(tenant_alpha.schema_name):
        assert not Group.objects.filter(pk=group_id).exists()


@pytest.mark.parametrize(
    ("body", "scim_type"),
    [
        ("{not json", "invalidSyntax"),
        ("[" * 5000 + "]" * 5000, "invalidSyntax"),
        ({"schemas": [PATCH], "Operations": [{"op": "explode", "path": "members"}]}, "invalidSyntax"),
        (
            {"schemas": [PATCH], "Operations": [{"op": "add", "path": "members", "value": [{"value": "999999"}]}]},
            "invalidValue",
        ),
        ({"Operations": [{"op": "add", "path": "members", "value": []}]}, "invalidSyntax"),
        (
            {
                "schemas": [PATCH],
                "Operations": [{"op": "replace", "path": "displayName", "value": TENANT_ADMINS_GROUP}],
            },
            "uniqueness",
        ),
    ],
)
def test_a_bad_group_patch_is_refused_audited_and_changes_nothing(scim, tenant_alpha, tenant_beta, body, scim_type):
    token = scim_token(tenant_alpha)
    member = scim.post("/scim/v2/Users", okta_user("ivy"), host=ALPHA_HOST, token=token).json()["id"]
    group = scim.post(
        "/scim/v2/Groups", {"displayName": "Support", "members": [{"value": member}]}, host=ALPHA_HOST, token=token
    ).json()
    # Two operations: the first is fine, the second is the bad one; neither may land.
    if isinstance(body, dict) and body.get("schemas"):
        body = {
            **body,
            "Operations": [{"op": "replace", "path": "displayName", "value": "Renamed"}, *body["Operations"]],
        }
    payload = body if isinstance(body, str) else json.dumps(body)
    response = scim.generic(
        "PATCH",
        f"/scim/v2/Groups/{group['id']}",
        payload,
        content_type="application/scim+json",
        HTTP_HOST=ALPHA_HOST,
        HTTP_AUTHORIZATION=f"Bearer {token}",
    )
    assert response.status_code in (400, 409), response.content
    assert response.json()["scimType"] == scim_type
    assert response.json()["detail"]
    after = scim.get(f"/scim/v2/Groups/{group['id']}", host=ALPHA_HOST, token=token).json()
    assert after["displayName"] == "Support"
    assert [item["value"] for item in after["members"]] == [member]
    with schema_context(tenant_alpha.schema_name):
        assert AuditEvent.objects.filter(action="scim.refused", outcome="failure").exists()


def test_another_tenants_user_ids_are_unknown_members(scim, tenant_alpha, tenant_beta):
    beta_member = scim.post("/scim/v2/Users", okta_user("jo"), host=BETA_HOST, token=scim_token(tenant_beta)).json()
    token = scim_token(tenant_alpha)
    response = scim.post(
        "/scim/v2/Groups",
        {"displayName": "Sales", "members": [{"value": beta_member["id"]}]},
        host=ALPHA_HOST,
        token=token,
    )
    assert response.status_code == 400
    assert "unknown members" in response.json()["detail"]
    with schema_context(tenant_alpha.schema_name):
        assert not Group.objects.filter(name="Sales").exists()
    assert scim.get(f"/scim/v2/Users/{beta_member['id']}", host=ALPHA_HOST, token=token).status_code == 404


@pytest.mark.parametrize(
    "text",
    [
        'userName co "a"',
        'userName eq "a" or userName eq "b"',
        'password eq "x"',
        'userName eq "unterminated',
        'userName eq "\\q"',
    ],
)
def test_filters_beyond_eq_and_and_are_refused_as_invalid(scim, tenant_alpha, text):
    response = scim.get("/scim/v2/Users", host=ALPHA_HOST, token=scim_token(tenant_alpha), data={"filter": text})
    assert response.status_code == 400
    assert response.json()["scimType"] == "invalidFilter"


def test_paging_and_discovery(scim, tenant_alpha):
    token = scim_token(tenant_alpha)
    for name in ("ka", "kb", "kc"):
        scim.post("/scim/v2/Users", okta_user(name), host=ALPHA_HOST, token=token)
    page = scim.get("/scim/v2/Users", host=ALPHA_HOST, token=token, data={"startIndex": 2, "count": 1}).json()
    assert (page["totalResults"], page["startIndex"], page["itemsPerPage"]) == (3, 2, 1)
    assert page["Resources"][0]["userName"] == "kb@example.com"
    config = scim.get("/scim/v2/ServiceProviderConfig", host=ALPHA_HOST, token=token).json()
    assert config["patch"]["supported"] is True
    assert config["bulk"]["supported"] is False
    assert scim.get("/scim/v2/Bulk", host=ALPHA_HOST, token=token).status_code == 404
    assert scim.get("/scim/v2/Users", host=ALPHA_HOST, token=token, data={"count": "-1"}).status_code == 400
