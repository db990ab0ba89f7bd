"""The socket's frames link to the same URLs Django's `reverse` gives, however the ids look."""

from __future__ import annotations

import pytest
from django.urls import NoReverseMatch, reverse

from apps.portal.realtime.frames import done_frame, object_url


@pytest.mark.parametrize("query_id", [1, 9, 10, 4242, 987654321, 10**12])
@pytest.mark.parametrize("name", ["portal:feedback", "portal:history_detail"])
def test_an_answers_links_are_the_reversed_urls(name, query_id):
    assert object_url(name, query_id) == reverse(name, args=[query_id])


def test_the_done_frame_links_its_own_question():
    frame = done_frame({"query_id": 31, "outcome": "answered", "answer": "28 days [1]."})

    assert frame["feedback_url"] == reverse("portal:feedback", args=[31])
    assert frame["history_url"] == reverse("portal:history_detail", args=[31])
    assert done_frame({"outcome": "failed"})["feedback_url"] == ""


def test_a_url_that_takes_no_id_is_refused_not_guessed():
    with pytest.raises(NoReverseMatch):
        object_url("portal:ask", 3)


def test_the_done_frame_links_every_cited_passage_to_its_place_in_its_document():
    frame = done_frame(
        {
            "query_id": 5,
            "citations": [{"number": 1, "document_id": 12, "chunk_id": 40}],
            "sources": [{"document_id": 12}, {"title": "no document"}],
        }
    )

    page = reverse("portal:document_detail", args=[12])
    assert frame["citations"][0]["url"] == f"{page}?chunk=40#chunk-40"
    assert frame["sources"] == [{"document_id": 12, "url": page}, {"title": "no document"}]


def test_the_done_frame_links_each_related_document_to_its_closest_passage():
    frame = done_frame({"query_id": 6, "outcome": "refused", "related": [{"document_id": 3, "chunk_id": 9}]})

    page = reverse("portal:document_detail", args=[3])
    assert frame["related"] == [{"document_id": 3, "chunk_id": 9, "url": f"{page}?chunk=9#chunk-9"}]
    assert done_frame({"query_id": 7, "outcome": "answered"})["related"] == []
