"""Every security-relevant action leaves exactly one chained audit event (invariant 5)."""

from __future__ import annotations

import pytest
from django.contrib.auth.models import Group
from django_tenants.utils import schema_context

from apps.accounts.models import User
from apps.documents.services import document_access_grant, document_access_revoke, document_visibility_set
from tests.documents.factories import indexed_document

from .helpers import make_user, new_events

pytestmark = pytest.mark.django_db
ALPHA = {"HTTP_HOST": "alpha.localhost", "HTTP_USER_AGENT": "compliance-test/1.0", "REMOTE_ADDR": "10.20.30.40"}
PASSWORD = "a long enough password"


@pytest.fixture
def alice(tenant_alpha) -> User:
    with schema_context("alpha"):
        return User.objects.create_user(
            username="alice", email="alice@alpha.example.com", password=PASSWORD, is_staff=True
        )


@pytest.fixture
def admin_client(client, tenant_alpha):
    with schema_context("alpha"):
        client.force_login(User.objects.get(username="admin"))
    return client


def test_sign_in_is_one_event_with_address_and_user_agent(client, alice):
    with new_events() as events:
        response = client.post("/admin/login/", {"username": "alice", "password": PASSWORD}, **ALPHA)

    assert response.status_code == 302
    assert events.actions() == ["auth.login"]
    event = events[0]
    assert (event.actor_id, event.actor_label, event.target_label) == (alice.pk, f"user:{alice.pk}", f"user:{alice.pk}")
    assert (event.ip, event.user_agent, event.tenant_schema) == ("10.20.30.40", "compliance-test/1.0", "alpha")


def test_a_failed_sign_in_is_one_failure_event(client, alice):
    with new_events() as events:
        client.post("/admin/login/", {"username": "alice", "password": "wrong password!"}, **ALPHA)

    assert events.actions() == ["auth.login_failed"]
    assert events[0].outcome == "failure"
    assert events[0].target_label == f"user:{alice.pk}"
    assert events[0].actor_id is None


def test_a_failed_sign_in_for_an_unknown_name_keeps_no_plain_name(client, tenant_alpha):
    with new_events() as events:
        client.post("/admin/login/", {"username": "mallory@example.org", "password": "guess guess guess"}, **ALPHA)

    assert events.actions() == ["auth.login_failed"]
    assert "mallory" not in str(vars(events[0]))
    assert len(events[0].details["username_sha256"]) == 16


def test_sign_out_is_one_event(client, alice):
    with schema_context("alpha"):
        client.force_login(alice)
    with new_events() as events:
        client.post("/admin/logout/", **ALPHA)

    assert events.actions() == ["auth.logout"]
    assert events[0].actor_id == alice.pk


def test_each_grant_and_revoke_is_one_event(in_alpha):
    owner, reader, granter = make_user(), make_user(), make_user()
    finance = Group.objects.create(name="Finance")
    document = indexed_document(owner=owner, title="Budget", texts=["numbers"])

    with new_events() as events:
        document_access_grant(document=document, principal=reader, actor=granter)
        document_access_grant(document=document, principal=finance, permissions=["view_document", "change_document"])
        document_access_revoke(document=document, principal=reader, permissions=["view_document"], actor=granter)
        document_visibility_set(document=document, visible_to_tenant=True, actor=granter)

    assert events.actions() == ["acl.grant", "acl.grant", "acl.revoke", "acl.grant"]
    assert events[0].actor_id == granter.pk
    assert events[1].actor_label == "system"
    assert {event.target_type for event in events} == {"documents.document"}
    assert events[0].details == {"principal": f"user:{reader.pk}", "permissions": ["view_document"]}
    assert events[1].details == {
        "principal": f"group:{finance.pk}",
        "permissions": ["change_document", "view_document"],
    }
    assert events[3].details["principal"] == "tenant:all"


def test_admin_add_change_and_delete_are_one_event_each(admin_client):
    with new_events() as added:
        admin_client.post("/admin/auth/group/add/", {"name": "Auditors"}, **ALPHA)
    with schema_context("alpha"):
        group = Group.objects.get(name="Auditors")
    with new_events() as changed:
        admin_client.post(f"/admin/auth/group/{group.pk}/change/", {"name": "Internal audit"}, **ALPHA)
    with new_events() as deleted:
        admin_client.post(f"/admin/auth/group/{group.pk}/delete/", {"post": "yes"}, **ALPHA)

    assert added.actions() == ["admin.add"]
    assert changed.actions() == ["admin.change"]
    assert changed[0].details["changed"] == ["Name"]  # field labels, never values
    assert deleted.actions() == ["admin.delete"]
    assert {added[0].target_id, changed[0].target_id, deleted[0].target_id} == {str(group.pk)}
    assert deleted[0].target_type == "auth.group"


@pytest.mark.parametrize("how_many", [1, 3])
def test_bulk_deletion_from_a_list_is_one_event_per_object(admin_client, how_many):
    with schema_context("alpha"):
        groups = [Group.objects.create(name=f"Temporary {index}") for index in range(how_many)]
    with new_events() as events:
        response = admin_client.post(
            "/admin/auth/group/",
            {"action": "delete_selected", "_selected_action": [group.pk for group in groups], "post": "yes"},
            **ALPHA,
        )

    assert response.status_code == 302
    assert events.actions() == ["admin.delete"] * how_many
    assert sorted(event.target_id for event in events) == sorted(str(group.pk) for group in groups)


def test_admin_changes_to_a_user_name_them_by_id_only(admin_client, alice):
    with new_events() as events:
        response = admin_client.post(
            f"/admin/accounts/user/{alice.pk}/change/",
            {
                "username": "alice",
                "email": "alice.new@alpha.example.com",
                "is_active": "on",
                "is_staff": "on",
                "date_joined_0": "2024-01-01",
                "date_joined_1": "10:00:00",
            },
            **ALPHA,
        )

    assert response.status_code == 302, response.content[:2000]
    assert events.actions() == ["admin.change"]
    assert events[0].target_label == f"user:{alice.pk}"
    assert "alice" not in str(vars(events[0]))


def test_tenant_settings_changes_are_one_event(in_alpha):
    from apps.tenants.services import tenant_settings_update

    admin = User.objects.get(username="admin")
    with new_events() as events:
        tenant_settings_update(schema_name="alpha", actor=admin, query_retention_days=30)

    assert events.actions() == ["settings.update"]
    assert events[0].actor_id == admin.pk


def test_api_key_creation_and_revocation_are_one_event_each(in_alpha):
    from apps.api.services import api_key_create, api_key_revoke

    admin = User.objects.get(username="admin")
    with new_events() as created:
        key = api_key_create(tenant=in_alpha, user=admin, created_by=admin, name="ci", scopes=["query"]).key
    with new_events() as revoked:
        api_key_revoke(key=key, actor=admin)

    assert created.actions() == ["api_key.create"]
    assert revoked.actions() == ["api_key.revoke"]


def test_events_stay_in_their_own_tenant(in_alpha):
    from apps.audit.services import audit_event_record

    with new_events("beta") as in_beta:
        audit_event_record(action="test.only_alpha")
    assert in_beta == []


def test_grants_in_the_admins_permission_pages_go_through_the_services(admin_client, alice):
    from apps.documents.acl import user_principal
    from apps.documents.models import Chunk

    with schema_context("alpha"):
        document = indexed_document(owner=None, title="Board minutes", texts=["Quarterly results."])
    page = f"/admin/documents/document/{document.pk}/permissions/user-manage/{alice.pk}/"

    with new_events() as granted:
        response = admin_client.post(page, {"permissions": ["view_document"]}, **ALPHA)
    with schema_context("alpha"):
        chunk_acl = Chunk.objects.get(document=document).acl
    with new_events() as revoked:
        admin_client.post(page, {"permissions": [], "submit": "Save"}, **ALPHA)  # a browser always sends something

    assert response.status_code == 302
    assert granted.actions() == ["acl.grant"]
    with schema_context("alpha"):
        admin_id = User.objects.get(username="admin").pk
    assert granted[0].actor_id == admin_id
    assert user_principal(alice.pk) in chunk_acl  # the ACL followed the grant at once
    assert revoked.actions() == ["acl.revoke"]


def test_too_many_wrong_passwords_lock_the_name_even_for_the_right_one(client, alice, settings):
    """Attack pass, hole 9: 25 wrong passwords, then the right one, signed in."""
    settings.AXES_FAILURE_LIMIT = 3
    with new_events() as events:
        for _ in range(3):
            client.post("/admin/login/", {"username": "alice", "password": "wrong password!"}, **ALPHA)
        right = client.post("/admin/login/", {"username": "alice", "password": PASSWORD}, **ALPHA)

    assert right.status_code == 429
    assert int(right["Retry-After"]) > 0
    assert "_auth_user_id" not in client.session
    assert "auth.lockout" in events.actions()
    assert "auth.login" not in events.actions()


def test_the_portal_sign_in_is_locked_too_and_another_name_is_not(client, alice, settings):
    settings.AXES_FAILURE_LIMIT = 2
    for _ in range(2):
        client.post("/accounts/login/", {"username": "alice", "password": "wrong password!"}, **ALPHA)
    locked = client.post("/accounts/login/", {"username": "alice", "password": PASSWORD}, **ALPHA)
    with schema_context("alpha"):
        User.objects.create_user(username="bob", password=PASSWORD)
    other = client.post("/accounts/login/", {"username": "bob", "password": PASSWORD}, **ALPHA)

    assert locked.status_code == 429
    assert "Too many failed sign-ins" in locked.content.decode()
    assert other.status_code == 302  # locking one name leaves the others alone
