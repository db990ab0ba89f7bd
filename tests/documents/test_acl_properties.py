"""Property: whatever sequence of grants, revocations, visibility changes and group memberships
happens, who may read a document is the same everywhere (issue 19: make each class of hole
impossible, not patch one).

Hypothesis draws the sequences. After every step the permission model written here from the rules
in docs/permissions.md is compared with what each enforcement point would let through: the
document's ACL against the user's principals (the dense, keyword and graph legs' filter), each
chunk's ACL (what those legs actually read), and the guardian-based selector behind the pages.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import cast

import pytest
from django.db import transaction
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from apps.accounts.models import User
from apps.documents.acl import principals_for_user
from apps.documents.models import Chunk, Document
from apps.documents.selectors import documents_visible_to
from apps.documents.services import (
    document_access_grant,
    document_access_revoke,
    document_create,
    document_version_add,
    document_visibility_set,
)
from tests.documents.factories import GroupFactory, UserFactory, vector

pytestmark = [pytest.mark.django_db, pytest.mark.integration]

# Small on purpose: every kind of step meets every other within a few dozen examples.
USERS, GROUPS, DOCUMENTS = 3, 1, 2

steps = st.lists(
    st.one_of(
        st.tuples(st.just("grant_user"), st.integers(0, DOCUMENTS - 1), st.integers(0, USERS - 1)),
        st.tuples(st.just("revoke_user"), st.integers(0, DOCUMENTS - 1), st.integers(0, USERS - 1)),
        st.tuples(st.just("grant_group"), st.integers(0, DOCUMENTS - 1), st.integers(0, GROUPS - 1)),
        st.tuples(st.just("revoke_group"), st.integers(0, DOCUMENTS - 1), st.integers(0, GROUPS - 1)),
        st.tuples(st.just("visible"), st.integers(0, DOCUMENTS - 1), st.booleans()),
        st.tuples(st.just("join"), st.integers(0, USERS - 1), st.integers(0, GROUPS - 1)),
        st.tuples(st.just("leave"), st.integers(0, USERS - 1), st.integers(0, GROUPS - 1)),
        st.tuples(st.just("active"), st.integers(0, USERS - 1), st.booleans()),
    ),
    max_size=12,
)


@dataclass
class Model:
    """Who may read what, by the documented rules alone."""

    owners: list[int]
    readers: list[set[int]] = field(default_factory=list)  # users granted per document
    groups: list[set[int]] = field(default_factory=list)  # groups granted per document
    tenant_wide: list[bool] = field(default_factory=list)
    members: list[set[int]] = field(default_factory=list)  # groups per user
    active: list[bool] = field(default_factory=list)

    def may_read(self, user: int, document: int) -> bool:
        if not self.active[user]:
            return False
        return (
            self.tenant_wide[document]
            or user in self.readers[document]
            or bool(self.members[user] & self.groups[document])
        )


@dataclass
class World:
    users: list
    groups: list
    documents: list[Document]


def world_create(owners: list[int], tenant_wide: list[bool]) -> tuple[World, Model]:
    users = [cast(User, UserFactory()) for _ in range(USERS)]
    groups = [GroupFactory() for _ in range(GROUPS)]
    documents = []
    for number, (owner, public) in enumerate(zip(owners, tenant_wide, strict=True)):
        document = document_create(
            uploaded_by=users[owner], title=f"Doc {number}", source=f"{number}.txt", visible_to_tenant=public
        )
        version = document_version_add(document=document, filename=f"{number}.txt", data=b"text", uploaded_by=None)
        Chunk.objects.create(
            document=document,
            version=version,
            ordinal=0,
            text="text",
            char_start=0,
            char_end=4,
            token_count=1,
            embedding=vector(number),
            embedding_model="test",
            acl=list(Document.objects.get(pk=document.pk).acl),
        )
        documents.append(document)
    model = Model(
        owners=owners,
        readers=[{owner} for owner in owners],
        groups=[set() for _ in owners],
        tenant_wide=list(tenant_wide),
        members=[set() for _ in range(USERS)],
        active=[True] * USERS,
    )
    return World(users=users, groups=groups, documents=documents), model


def apply(step: tuple, world: World, model: Model) -> None:
    kind, first, second = step
    if kind in ("grant_user", "revoke_user", "grant_group", "revoke_group"):
        action, holder = kind.split("_")
        principal = (world.users if holder == "user" else world.groups)[second]
        granted = (model.readers if holder == "user" else model.groups)[first]
        if action == "grant":
            document_access_grant(document=world.documents[first], principal=principal)
            granted.add(second)
        else:
            document_access_revoke(document=world.documents[first], principal=principal)
            granted.discard(second)
    elif kind == "visible":
        document_visibility_set(document=world.documents[first], visible_to_tenant=second)
        model.tenant_wide[first] = second
    elif kind in ("join", "leave"):
        user, group = world.users[first], world.groups[second]
        (user.groups.add if kind == "join" else user.groups.remove)(group)
        (model.members[first].add if kind == "join" else model.members[first].discard)(second)
    elif kind == "active":
        world.users[first].is_active = second
        world.users[first].save(update_fields=["is_active"])
        model.active[first] = second


def enforced(world: World, user_index: int, document_index: int) -> dict[str, bool]:
    user = type(world.users[user_index]).objects.get(pk=world.users[user_index].pk)  # as the next request loads it
    document = Document.objects.get(pk=world.documents[document_index].pk)
    principals = set(principals_for_user(user))
    chunk_acls = Chunk.objects.filter(document=document).values_list("acl", flat=True)
    return {
        "document acl": bool(principals & set(document.acl)),
        "chunk acl": all(bool(principals & set(acl)) for acl in chunk_acls),
        "pages": documents_visible_to(user=user).filter(pk=document.pk).exists() if user.is_active else False,
    }


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    owners=st.lists(st.integers(0, USERS - 1), min_size=DOCUMENTS, max_size=DOCUMENTS),
    tenant_wide=st.lists(st.booleans(), min_size=DOCUMENTS, max_size=DOCUMENTS),
    sequence=steps,
)
def test_every_enforcement_point_agrees_with_the_rules_after_any_sequence_of_changes(
    in_alpha, owners, tenant_wide, sequence
):
    with transaction.atomic():  # each example starts from nothing
        world, model = world_create(owners, tenant_wide)
        for step in sequence:
            apply(step, world, model)
            for user in range(USERS):
                for document in range(DOCUMENTS):
                    expected = model.may_read(user, document)
                    assert enforced(world, user, document) == dict.fromkeys(
                        ("document acl", "chunk acl", "pages"), expected
                    ), (step, user, document)
        transaction.set_rollback(True)
