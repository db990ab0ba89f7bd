"""The graph leg's entity linking: exact keys first, then whole-word partial matches, never past
the tenant or the ACL."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from django.test import override_settings

from apps.accounts.models import User
from apps.documents.acl import principals_for_user
from apps.documents.models import Chunk, Document
from apps.retrieval.legs.base import LegQuery
from apps.retrieval.legs.graph import Neo4jGraphLeg, containing_key_query, key_parts
from apps.tenants.context import in_tenant
from apps.text.entities import extract_query_entities
from tests.retrieval.corpus import document_ingest
from tests.support.committed import committed_tenant

MUNICIPALITY = (
    "The Jiménez Municipality is one of the nine municipalities that make up the Venezuelan state of "
    "Lara. Its shire town is Quíbor, famous for its pottery."
)
QUESTION = "In which country is Jiménez?"


def test_key_parts_are_the_shorter_word_runs_longest_first():
    assert key_parts("usual average snowfall") == [
        "usual average",
        "average snowfall",
        "usual",
        "average",
        "snowfall",
    ]
    assert key_parts("debt load") == ["debt", "load"]
    assert key_parts("jimenez") == []
    assert "of" not in key_parts("king of spain")  # too short to link on its own


def test_the_partial_link_query_keeps_a_hostile_key_inside_its_phrase():
    query = containing_key_query(tenant="acme", key='x" OR tenant:"other')
    assert query == 'tenant:"acme" AND key:"x\\" OR tenant:\\"other"'


def ingest(*, title: str, text: str, visible_to_tenant: bool) -> Document:
    return document_ingest(filename=f"{title}.txt", text=text, visible_to_tenant=visible_to_tenant)


@pytest.fixture(scope="module")
def linked_tenants(django_db_setup, django_db_blocker) -> Iterator[dict]:
    """Tenant `pl` has the municipality for everyone; tenant `px` has it too, restricted."""
    with (
        django_db_blocker.unblock(),
        committed_tenant("pl") as open_tenant,
        committed_tenant("px") as restricted_tenant,
    ):
        with in_tenant(open_tenant.schema_name):
            visible = ingest(title="Jimenez Municipality", text=MUNICIPALITY, visible_to_tenant=True)
            reader = User.objects.create_user(username="reader", password="x" * 16)
            open_side = {"schema": open_tenant.schema_name, "document": visible, "reader": reader}
        with in_tenant(restricted_tenant.schema_name):
            hidden = ingest(title="Jimenez Municipality", text=MUNICIPALITY, visible_to_tenant=False)
            outsider = User.objects.create_user(username="outsider", password="x" * 16)
            restricted_side = {"schema": restricted_tenant.schema_name, "document": hidden, "reader": outsider}
        yield {"open": open_side, "restricted": restricted_side}


def graph_documents(*, schema: str, user: User, question: str, walked: tuple[str, ...] = ()) -> set[int]:
    with in_tenant(schema):
        query = LegQuery(
            tenant=schema,
            principals=tuple(principals_for_user(user)),
            text=question,
            k=10,
            entity_keys=tuple(entity.key for entity in extract_query_entities(text=question)),
            walked_keys=walked,
        )
        chunk_ids = [candidate.chunk_id for candidate in Neo4jGraphLeg().search(query)]
        return set(Chunk.objects.filter(pk__in=chunk_ids).values_list("document_id", flat=True))


def test_a_question_entity_without_a_node_links_to_the_nodes_that_contain_it(linked_tenants, committed_db):
    side = linked_tenants["open"]
    assert "jimenez" in {entity.key for entity in extract_query_entities(text=QUESTION)}

    assert graph_documents(schema=side["schema"], user=side["reader"], question=QUESTION) == {side["document"].pk}


def test_partial_links_respect_the_acl_and_the_tenant(linked_tenants, committed_db):
    side = linked_tenants["restricted"]
    # The same entity exists in this tenant, but only on a document the outsider may not view,
    # and the open tenant's copy must never be reached from here.
    assert graph_documents(schema=side["schema"], user=side["reader"], question=QUESTION) == set()


def test_linked_entities_mentioned_by_more_chunks_than_the_cap_are_not_walked(linked_tenants, committed_db):
    side = linked_tenants["open"]
    found = {side["document"].pk}

    assert graph_documents(schema=side["schema"], user=side["reader"], question=QUESTION) == found
    with override_settings(GRAPH_LEG_MAX_SEED_DEGREE=0):  # every linked entity is now a hub
        assert graph_documents(schema=side["schema"], user=side["reader"], question=QUESTION) == set()


PARTNERS = ("Alder Freight", "Birch Logistics", "Cedar Shipping", "Dogwood Haulage")
PARTNER_PAGES = {
    "Partners": "Acme Traders works with " + ", ".join(PARTNERS) + ".",
    **{
        f"{name} office": f"{name} runs its fleet from {city}."
        for name, city in zip(PARTNERS, ("Oslo", "Bergen", "Aarhus", "Malmo"), strict=True)
    },
}


@pytest.fixture(scope="module")
def partner_tenant(django_db_setup, django_db_blocker) -> Iterator[dict]:
    """One page links Acme Traders to four partners; each partner has a page of its own."""
    with django_db_blocker.unblock(), committed_tenant("pn") as tenant, in_tenant(tenant.schema_name):
        documents = {
            title: ingest(title=title, text=text, visible_to_tenant=True) for title, text in PARTNER_PAGES.items()
        }
        reader = User.objects.create_user(username="reader", password="x" * 16)
        yield {"schema": tenant.schema_name, "documents": documents, "reader": reader}


def test_the_second_hop_walks_at_most_the_questions_neighbour_budget(partner_tenant, committed_db):
    """A question's entities share one budget of neighbours to walk, so a question naming many
    things costs no more than one naming a few."""
    question = "Which cities do the partners of Acme Traders operate from?"
    partner_pages = {partner_tenant["documents"][f"{name} office"].pk for name in PARTNERS}

    def reached() -> set[int]:
        found = graph_documents(schema=partner_tenant["schema"], user=partner_tenant["reader"], question=question)
        return found & partner_pages

    assert reached() == partner_pages  # two hops: Acme -> partner -> the partner's page
    with override_settings(GRAPH_LEG_NEIGHBOUR_BUDGET=2):
        assert 0 < len(reached()) <= 2


def test_an_entity_walked_in_an_earlier_round_is_read_but_not_walked_again(partner_tenant, committed_db):
    """The bridge hop's second round still reads the chunks that mention the question's own
    entities, but does not walk their neighbours again: the first round did."""
    question = "Which cities do the partners of Acme Traders operate from?"
    documents = partner_tenant["documents"]
    partner_pages = {documents[f"{name} office"].pk for name in PARTNERS}
    walked = tuple(entity.key for entity in extract_query_entities(text=question))

    found = graph_documents(
        schema=partner_tenant["schema"], user=partner_tenant["reader"], question=question, walked=walked
    )

    assert documents["Partners"].pk in found  # Acme Traders is named there: one hop
    assert not found & partner_pages  # reached only through a partner, a second hop
