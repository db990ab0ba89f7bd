"""Staff in the Django admin never give anyone, themselves included, more than they hold (third
attack pass): a staff user with `change_user` ticked `is_superuser` on his own account and
`is_service_account` on a colleague (then minted a key acting as her); one with document
permissions listed every private title and granted himself a private document."""

from __future__ import annotations

import pytest
from django.contrib.auth.models import Group, Permission
from django_tenants.utils import schema_context
from guardian.shortcuts import get_perms

from apps.accounts.models import User
from apps.accounts.roles import TENANT_ADMINS_GROUP
from apps.documents.models import Document
from apps.documents.services import document_access_grant
from tests.documents.factories import indexed_document

pytestmark = pytest.mark.django_db
ALPHA = {"HTTP_HOST": "alpha.localhost"}
PERMISSIONS = (
    "view_user",
    "add_user",
    "change_user",
    "delete_user",
    "view_group",
    "add_group",
    "change_group",
    "delete_group",
    "view_document",
    "change_document",
    "delete_document",
)


@pytest.fixture
def helpdesk(tenant_alpha) -> User:
    """A tenant administrator whom a superuser gave every user, group and document permission."""
    with schema_context("alpha"):
        user = User.objects.create_user(username="helpdesk", password="a long enough password", is_staff=True)
        user.groups.add(Group.objects.get(name=TENANT_ADMINS_GROUP))
        user.user_permissions.add(*Permission.objects.filter(codename__in=PERMISSIONS))
    return user


@pytest.fixture
def staff_client(client, helpdesk):
    with schema_context("alpha"):
        client.force_login(helpdesk)
    return client


def user_form(user: User, **changes) -> dict:
    form: dict[str, object] = {
        "username": user.username,
        "email": user.email,
        "is_active": "on",
        "is_staff": "on" if user.is_staff else "",
        "date_joined_0": "2024-01-01",
        "date_joined_1": "10:00:00",
    }
    with schema_context("alpha"):
        form["groups"] = [str(pk) for pk in user.groups.values_list("pk", flat=True)]
    return {**form, **changes}


def reloaded(user: User) -> User:
    with schema_context("alpha"):
        return User.objects.get(pk=user.pk)


def test_staff_cannot_make_themselves_superuser(staff_client, helpdesk):
    response = staff_client.post(
        f"/admin/accounts/user/{helpdesk.pk}/change/", user_form(helpdesk, is_superuser="on"), **ALPHA
    )

    assert response.status_code == 302
    assert not reloaded(helpdesk).is_superuser


def test_staff_cannot_turn_a_colleague_into_a_service_account(staff_client):
    with schema_context("alpha"):
        carol = User.objects.create_user(username="carol", password="a long enough password")

    response = staff_client.post(
        f"/admin/accounts/user/{carol.pk}/change/", user_form(carol, is_service_account="on"), **ALPHA
    )

    assert response.status_code == 302
    assert not reloaded(carol).is_service_account


def test_staff_cannot_change_a_superusers_account_or_password(staff_client):
    with schema_context("alpha"):
        boss = User.objects.get(username="admin")

    changed = staff_client.post(
        f"/admin/accounts/user/{boss.pk}/change/", user_form(boss, email="x@evil.test"), **ALPHA
    )
    password = staff_client.post(
        f"/admin/accounts/user/{boss.pk}/password/",
        {"password1": "a brand new password 1", "password2": "a brand new password 1"},
        **ALPHA,
    )

    assert changed.status_code == 403
    assert password.status_code == 403
    assert reloaded(boss).email != "x@evil.test"
    assert not reloaded(boss).check_password("a brand new password 1")


def test_staff_add_people_only_to_groups_they_belong_to(staff_client, helpdesk):
    with schema_context("alpha"):
        carol = User.objects.create_user(username="carol", password="a long enough password")
        finance = Group.objects.create(name="Finance")
        admins = Group.objects.get(name=TENANT_ADMINS_GROUP)

    refused = staff_client.post(
        f"/admin/accounts/user/{carol.pk}/change/", user_form(carol, groups=[str(finance.pk)]), **ALPHA
    )
    allowed = staff_client.post(
        f"/admin/accounts/user/{carol.pk}/change/", user_form(carol, groups=[str(admins.pk)]), **ALPHA
    )

    assert refused.status_code == 200
    assert "groups you belong to yourself" in refused.content.decode()
    assert allowed.status_code == 302
    with schema_context("alpha"):
        assert list(reloaded(carol).groups.values_list("name", flat=True)) == [TENANT_ADMINS_GROUP]


def test_staff_cannot_add_permissions_to_a_group(staff_client):
    with schema_context("alpha"):
        admins = Group.objects.get(name=TENANT_ADMINS_GROUP)
        before = set(admins.permissions.values_list("pk", flat=True))
        everything = [str(pk) for pk in Permission.objects.values_list("pk", flat=True)]

    staff_client.post(
        f"/admin/auth/group/{admins.pk}/change/", {"name": TENANT_ADMINS_GROUP, "permissions": everything}, **ALPHA
    )

    with schema_context("alpha"):
        assert set(admins.permissions.values_list("pk", flat=True)) == before


@pytest.fixture
def private_document(tenant_alpha):
    with schema_context("alpha"):
        alice = User.objects.create_user(username="alice", password="a long enough password")
        return indexed_document(owner=alice, title="Project Nightingale", texts=["The budget is 412 million euros."])


def test_the_document_admin_lists_only_what_the_staff_user_may_view(staff_client, private_document):
    with schema_context("alpha"):
        shared = indexed_document(
            owner=User.objects.get(username="admin"), title="Parking", texts=["Park in bay 3."], visible_to_tenant=True
        )

    listing = staff_client.get("/admin/documents/document/", **ALPHA)

    assert [row.pk for row in listing.context["cl"].result_list] == [shared.pk]
    assert "Project Nightingale" not in listing.content.decode()


def test_staff_cannot_grant_themselves_a_document_they_may_not_view(staff_client, helpdesk, private_document):
    url = f"/admin/documents/document/{private_document.pk}/permissions/user-manage/{helpdesk.pk}/"

    page = staff_client.get(f"/admin/documents/document/{private_document.pk}/permissions/", **ALPHA)
    grant = staff_client.post(url, {"permissions": ["view_document"]}, **ALPHA)

    assert page.status_code == 404
    assert grant.status_code == 404
    with schema_context("alpha"):
        assert "view_document" not in get_perms(reloaded(helpdesk), private_document)


def test_staff_cannot_rename_a_group_into_a_role_or_create_one(staff_client, helpdesk):
    """Re-test: renaming "Tenant admins" away and their own group to "Tenant admins" made a staff
    user a tenant administrator (roles are groups found by name)."""
    with schema_context("alpha"):
        helpers = Group.objects.create(name="Helpers")
        helpdesk.groups.add(helpers)
        admins = Group.objects.get(name=TENANT_ADMINS_GROUP)

    staff_client.post(f"/admin/auth/group/{admins.pk}/change/", {"name": "Tenant admins (old)"}, **ALPHA)
    staff_client.post(f"/admin/auth/group/{helpers.pk}/change/", {"name": TENANT_ADMINS_GROUP}, **ALPHA)
    created = staff_client.post("/admin/auth/group/add/", {"name": TENANT_ADMINS_GROUP + " "}, **ALPHA)
    deleted = staff_client.post(f"/admin/auth/group/{admins.pk}/delete/", {"post": "yes"}, **ALPHA)

    with schema_context("alpha"):
        assert Group.objects.get(pk=admins.pk).name == TENANT_ADMINS_GROUP
        assert Group.objects.get(pk=helpers.pk).name == "Helpers"
        assert Group.objects.filter(name__startswith=TENANT_ADMINS_GROUP).count() == 1
    assert "only a superuser creates role groups" in created.content.decode()
    assert deleted.status_code == 403


def test_staff_cannot_set_a_colleagues_password_or_address(staff_client):
    """Re-test: a staff user set a colleague's password and signed in as her."""
    with schema_context("alpha"):
        alice = User.objects.create_user(username="alice", password="alices own password", email="alice@alpha.test")

    password = staff_client.post(
        f"/admin/accounts/user/{alice.pk}/password/",
        {"password1": "Hijacked!pw77", "password2": "Hijacked!pw77", "usable_password": "true"},
        **ALPHA,
    )
    staff_client.post(f"/admin/accounts/user/{alice.pk}/change/", user_form(alice, email="me@evil.test"), **ALPHA)

    assert password.status_code == 403
    assert reloaded(alice).check_password("alices own password")
    assert reloaded(alice).email == "alice@alpha.test"


def test_reading_a_document_does_not_let_model_wide_permissions_publish_or_delete_it(staff_client, helpdesk):
    """Re-test: staff with model-wide document permissions, allowed only to read alice's private
    document, made it visible to everyone and deleted another one from the admin."""
    with schema_context("alpha"):
        alice = User.objects.create_user(username="alice", password="a long enough password")
        memo = indexed_document(owner=alice, title="Osprey memo", texts=["Osprey closes in May."])
        plan = indexed_document(owner=alice, title="Osprey plan", texts=["Osprey plan text."])
        for document in (memo, plan):
            document_access_grant(document=document, principal=helpdesk, permissions=["view_document"])

    staff_client.post(
        f"/admin/documents/document/{memo.pk}/change/", {"title": "Osprey memo", "visible_to_tenant": "on"}, **ALPHA
    )
    deleted = staff_client.post(f"/admin/documents/document/{plan.pk}/delete/", {"post": "yes"}, **ALPHA)

    with schema_context("alpha"):
        assert not Document.objects.get(pk=memo.pk).visible_to_tenant
        assert Document.objects.filter(pk=plan.pk).exists()
    assert deleted.status_code == 403


def test_staff_cannot_rename_a_colleague(staff_client):
    """Third re-test: renaming a colleague to one's own user name made one's identity provider
    tokens (JWT `sub`) act as her."""
    with schema_context("alpha"):
        emp = User.objects.create_user(username="emp", password="a long enough password")

    staff_client.post(f"/admin/accounts/user/{emp.pk}/change/", user_form(emp, username="helpdesk2"), **ALPHA)

    assert reloaded(emp).username == "emp"


def test_whoever_manages_viewers_grants_only_rights_they_hold(staff_client, helpdesk):
    """Third re-test: a tenant administrator who could only read a document granted himself
    change and delete on it from the admin's object-permission page."""
    with schema_context("alpha"):
        owner = User.objects.create_user(username="owner2", password="a long enough password")
        memo = indexed_document(owner=owner, title="Kestrel memo", texts=["Kestrel text."], visible_to_tenant=True)
    url = f"/admin/documents/document/{memo.pk}/permissions/user-manage/{helpdesk.pk}/"

    response = staff_client.post(url, {"permissions": ["view_document", "change_document", "delete_document"]}, **ALPHA)

    assert response.status_code == 403
    with schema_context("alpha"):
        assert "delete_document" not in get_perms(reloaded(helpdesk), memo)


def test_staff_cannot_delete_an_account_and_take_its_name(staff_client):
    """Fourth re-test: deleting a colleague and adding a user of the same name made her identity
    provider's tokens (which name users by user name) sign in to the new account."""
    with schema_context("alpha"):
        bob = User.objects.create_user(username="bob", password="a long enough password")

    deleted = staff_client.post(f"/admin/accounts/user/{bob.pk}/delete/", {"post": "yes"}, **ALPHA)

    assert deleted.status_code == 403
    assert reloaded(bob).username == "bob"
