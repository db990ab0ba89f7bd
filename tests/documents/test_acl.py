"""ACL principals are denormalised onto documents and chunks, and follow every grant and revoke."""

from __future__ import annotations

import pytest

from apps.accounts.models import User
from apps.core.process_cache import process_cache_scope
from apps.documents.acl import (
    SUPERUSER,
    TENANT_WIDE,
    acl_for_document,
    acl_for_new_document,
    acls_for_documents,
    principals_for_user,
    users_with_group_ids,
)
from apps.documents.index_state import current_index_version
from apps.documents.models import Chunk, Document, KeywordPosting
from apps.documents.selectors import chunks_visible_to, document_for_user, documents_visible_to
from apps.documents.services import (
    document_access_grant,
    document_access_revoke,
    document_create,
    document_delete,
    document_visibility_set,
)

from .factories import GroupFactory, UserFactory, indexed_document

pytestmark = pytest.mark.django_db


@pytest.fixture
def people(in_alpha):
    owner, colleague, outsider = UserFactory(), UserFactory(), UserFactory()
    finance = GroupFactory(name="Finance")
    colleague.groups.add(finance)
    return {"owner": owner, "colleague": colleague, "outsider": outsider, "finance": finance}


def chunk_acls(document: Document) -> set[tuple[str, ...]]:
    return {tuple(acl) for acl in Chunk.objects.filter(document=document).values_list("acl", flat=True)}


def test_the_uploader_owns_the_document_and_only_they_and_superusers_see_it(people):
    document = indexed_document(owner=people["owner"], title="Salaries", texts=["Pay bands for 2026.", "Bonus rules."])

    expected = tuple(sorted([f"user:{people['owner'].pk}", SUPERUSER]))
    assert chunk_acls(document) == {expected}
    assert tuple(document.acl) == expected
    assert list(documents_visible_to(user=people["owner"])) == [document]
    assert not documents_visible_to(user=people["colleague"]).exists()


def test_principals_of_a_user(people):
    principals = principals_for_user(people["colleague"])
    assert principals == sorted([TENANT_WIDE, f"user:{people['colleague'].pk}", f"group:{people['finance'].pk}"])


def test_group_ids_loaded_with_the_user_give_the_same_principals_without_another_query(
    people, django_assert_num_queries
):
    second = GroupFactory(name="Legal")
    people["colleague"].groups.add(second)
    users = users_with_group_ids(User.objects.filter(pk__in=[people["colleague"].pk, people["outsider"].pk]))
    with django_assert_num_queries(1):
        colleague, outsider = sorted(users, key=lambda user: user.pk != people["colleague"].pk)
        assert principals_for_user(colleague) == sorted(
            [TENANT_WIDE, f"user:{colleague.pk}", f"group:{people['finance'].pk}", f"group:{second.pk}"]
        )
        assert principals_for_user(outsider) == [TENANT_WIDE, f"user:{outsider.pk}"]
    assert principals_for_user(colleague) == principals_for_user(User.objects.get(pk=colleague.pk))


def test_a_membership_change_counts_on_the_next_request_though_groups_are_cached(people, django_assert_num_queries):
    colleague, finance = people["colleague"], people["finance"]
    with process_cache_scope():
        assert f"group:{finance.pk}" in principals_for_user(colleague)
    with process_cache_scope(), django_assert_num_queries(0):
        assert f"group:{finance.pk}" in principals_for_user(colleague)  # served from memory

    colleague.groups.remove(finance)
    with process_cache_scope():
        assert f"group:{finance.pk}" not in principals_for_user(colleague)

    legal = GroupFactory(name="Legal")
    legal.user_set.add(colleague)  # from the group's side: the same membership table
    with process_cache_scope():
        assert f"group:{legal.pk}" in principals_for_user(colleague)
    legal.delete()
    with process_cache_scope():
        assert f"group:{legal.pk}" not in principals_for_user(colleague)


def test_inactive_users_hold_no_principals(people):
    people["colleague"].is_active = False
    assert principals_for_user(people["colleague"]) == []


def test_group_grant_reaches_every_chunk_in_the_same_transaction_and_revoke_removes_it(people):
    document = indexed_document(owner=people["owner"], title="Budget", texts=["Q1 budget.", "Q2 budget."])
    version_before = current_index_version()

    acl = document_access_grant(document=document, principal=people["finance"])

    assert f"group:{people['finance'].pk}" in acl
    assert chunk_acls(document) == {tuple(acl)}
    assert current_index_version() > version_before
    assert document_for_user(user=people["colleague"], document_id=document.pk) == document

    document_access_revoke(document=document, principal=people["finance"])

    assert all(f"group:{people['finance'].pk}" not in acl for acl in chunk_acls(document))
    with pytest.raises(Document.DoesNotExist):
        document_for_user(user=people["colleague"], document_id=document.pk)


def test_direct_user_grant_and_revoke(people):
    document = indexed_document(owner=people["owner"], title="Plan", texts=["The plan."])
    document_access_grant(document=document, principal=people["outsider"])
    assert documents_visible_to(user=people["outsider"]).filter(pk=document.pk).exists()

    document_access_revoke(document=document, principal=people["outsider"])
    assert not documents_visible_to(user=people["outsider"]).filter(pk=document.pk).exists()


def test_tenant_wide_flag(people):
    document = indexed_document(owner=people["owner"], title="Handbook", texts=["Welcome."])
    document_visibility_set(document=document, visible_to_tenant=True)
    assert chunk_acls(document) == {tuple(sorted([TENANT_WIDE, SUPERUSER, f"user:{people['owner'].pk}"]))}
    assert documents_visible_to(user=people["outsider"]).filter(pk=document.pk).exists()

    document_visibility_set(document=document, visible_to_tenant=False)
    assert not documents_visible_to(user=people["outsider"]).filter(pk=document.pk).exists()


def test_final_chunk_check_filters_by_principals(people):
    document = indexed_document(owner=people["owner"], title="Secret", texts=["alpha", "beta"])
    chunk_ids = list(Chunk.objects.filter(document=document).values_list("pk", flat=True))

    assert set(chunks_visible_to(principals=principals_for_user(people["owner"]), chunk_ids=chunk_ids)) == set(
        Chunk.objects.filter(pk__in=chunk_ids)
    )
    assert not chunks_visible_to(principals=principals_for_user(people["outsider"]), chunk_ids=chunk_ids).exists()
    assert not chunks_visible_to(principals=[], chunk_ids=chunk_ids).exists()


def test_unknown_permissions_are_refused_and_change_nothing(people):
    document = indexed_document(owner=people["owner"], title="X", texts=["x"])
    before = chunk_acls(document)
    with pytest.raises(ValueError, match="unknown permissions"):
        document_access_grant(document=document, principal=people["outsider"], permissions=["delete_everything"])
    assert chunk_acls(document) == before


def test_delete_removes_chunks_postings_grants_and_updates_statistics(people, django_capture_on_commit_callbacks):
    from apps.documents.index_state import index_state_row

    document = indexed_document(owner=people["owner"], title="Old", texts=["old words here", "more old words"])
    document_access_grant(document=document, principal=people["finance"])
    state_before = index_state_row()

    with django_capture_on_commit_callbacks() as callbacks:
        document_delete(document=document)

    assert not Chunk.objects.filter(document_id=document.pk).exists()
    assert not KeywordPosting.objects.filter(chunk__document_id=document.pk).exists()
    state_after = index_state_row()
    assert state_after.chunk_count == state_before.chunk_count - 2
    assert state_after.version > state_before.version
    assert len(callbacks) == 1  # the graph deletion is signalled after commit


def test_tenant_isolation_of_documents(people, tenant_beta):
    from django_tenants.utils import schema_context

    indexed_document(owner=people["owner"], title="Quarterly report", texts=["alpha numbers"])
    with schema_context("beta"):
        assert not Document.objects.filter(title="Quarterly report").exists()
        assert "alpha numbers" not in list(Chunk.objects.values_list("text", flat=True))


@pytest.mark.parametrize("visible_to_tenant", [False, True])
@pytest.mark.parametrize("with_owner", [False, True])
def test_a_new_documents_acl_is_what_guardian_holds_for_it(people, visible_to_tenant, with_owner):
    owner = people["owner"] if with_owner else None
    document = document_create(uploaded_by=owner, title="New", source="new.txt", visible_to_tenant=visible_to_tenant)

    assert document.acl == acl_for_new_document(visible_to_tenant=visible_to_tenant, owner=owner)
    assert document.acl == acl_for_document(document)


def test_acls_of_many_documents_are_read_together_and_kept_apart(people):
    shared = indexed_document(owner=people["owner"], title="Budget", texts=["Budget 2027."])
    document_access_grant(document=shared, principal=people["finance"])
    document_access_grant(document=shared, principal=people["colleague"])
    private = indexed_document(owner=people["outsider"], title="Notes", texts=["My notes."])
    public = indexed_document(owner=None, title="Handbook", texts=["Welcome."], visible_to_tenant=True)

    acls = acls_for_documents([shared, private, public])

    assert acls == {document.pk: acl_for_document(document) for document in (shared, private, public)}
    assert acls[shared.pk] == sorted(
        [SUPERUSER, f"user:{people['owner'].pk}", f"user:{people['colleague'].pk}", f"group:{people['finance'].pk}"]
    )
    assert acls[private.pk] == sorted([SUPERUSER, f"user:{people['outsider'].pk}"])
    assert acls[public.pk] == sorted([SUPERUSER, TENANT_WIDE])


def test_nobody_takes_away_rights_they_do_not_hold(people):
    """Fifth attack pass: a colleague with change rights took the owner's delete right, and a
    manager without rights took the owner's document from him (viewing gone, every right gone)."""
    from django.core.exceptions import PermissionDenied
    from guardian.shortcuts import get_user_perms

    document = indexed_document(owner=people["owner"], title="Budget", texts=["The budget."])
    colleague = people["colleague"]
    document_access_grant(document=document, principal=colleague, permissions=["view_document", "change_document"])

    for permissions in (
        ["delete_document"],
        ["view_document"],
        ["view_document", "change_document", "delete_document"],
    ):
        with pytest.raises(PermissionDenied):
            document_access_revoke(
                document=document, principal=people["owner"], permissions=permissions, actor=colleague
            )
    assert set(get_user_perms(people["owner"], document)) >= {"view_document", "change_document", "delete_document"}

    # What the actor holds too, and viewing alone from someone holding nothing more, may be taken.
    document_access_revoke(
        document=document, principal=people["owner"], permissions=["change_document"], actor=colleague
    )
    document_access_grant(document=document, principal=people["outsider"], actor=colleague)
    document_access_revoke(
        document=document, principal=people["outsider"], permissions=["view_document"], actor=colleague
    )
    assert not documents_visible_to(user=people["outsider"]).filter(pk=document.pk).exists()
