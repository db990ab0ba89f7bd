"""Query history and feedback in the admin: read-only for compliance staff, sources shown, one tenant."""

from __future__ import annotations

import csv
import io

import pytest
from django_tenants.utils import schema_context

from apps.feedback.models import Feedback
from apps.feedback.services import feedback_submit
from tests.audit.helpers import make_user, new_events
from tests.documents.factories import indexed_document
from tests.feedback.factories import query_log

pytestmark = pytest.mark.django_db
HISTORY = "/admin/answers/querylog/"
FEEDBACK = "/admin/feedback/feedback/"


@pytest.fixture
def history(tenant_alpha, tenant_beta):
    with schema_context("alpha"):
        alice, bob = make_user(username="alice"), make_user(username="bob")
        refund = indexed_document(owner=None, title="Refund policy", texts=["Refunds within 30 days."])
        alices = query_log(user=alice, question="What is the refund policy?", answer="30 days.", documents=[refund])
        bobs = query_log(user=bob, question="Who approves travel?", answer="Your manager.")
        feedback = feedback_submit(user=alice, query_id=alices.pk, rating=-1, comment="too short")
    with schema_context("beta"):
        query_log(user=make_user(username="zed"), question="Beta-only secret question?")
    return {"alice": alice, "bob": bob, "alices": alices, "bobs": bobs, "refund": refund, "feedback": feedback}


def _rows(client, path, params=None):
    response = client.get(path, params or {})
    assert response.status_code == 200
    return list(response.context["cl"].result_list)


def test_compliance_staff_read_query_history_with_its_cited_sources(officer_client, history):
    rows = _rows(officer_client, HISTORY)
    detail = officer_client.get(f"{HISTORY}{history['alices'].pk}/change/").content.decode()

    assert {row.query for row in rows} == {"What is the refund policy?", "Who approves travel?"}
    assert "Refund policy" in detail
    assert "Refund policy.txt" in detail
    assert 'name="_save"' not in detail
    # Compliance staff may not open documents, so the source is named but not linked.
    assert f"/admin/documents/document/{history['refund'].pk}/change/" not in detail


def test_tenant_admins_get_links_to_the_cited_documents(admin_client, history):
    detail = admin_client.get(f"{HISTORY}{history['alices'].pk}/change/").content.decode()
    assert f"/admin/documents/document/{history['refund'].pk}/change/" in detail


def test_history_filters_by_user_outcome_and_date(officer_client, history):
    by_user = _rows(officer_client, HISTORY, {"user__id__exact": history["alice"].pk})
    by_outcome = _rows(officer_client, HISTORY, {"outcome__exact": "refused"})
    today = history["alices"].created_at.date().isoformat()
    by_date = _rows(officer_client, HISTORY, {"created_at__date__gte": today})

    assert [row.pk for row in by_user] == [history["alices"].pk]
    assert by_outcome == []
    assert len(by_date) == 2


def test_history_export_is_filtered_audited_and_stays_in_the_tenant(officer_client, history):
    with new_events() as events:
        response = officer_client.get(f"{HISTORY}export-csv/", {"user__id__exact": history["bob"].pk})
        rows = list(csv.DictReader(io.StringIO(b"".join(response.streaming_content).decode())))

    assert [row["query"] for row in rows] == ["Who approves travel?"]
    # The model's own column, not the admin's model class (third attack pass: "query query 44 ...").
    assert [(row["model"], row["provider"]) for row in rows] == [("extractive", "extractive")]
    assert events.actions() == ["export.csv"]
    assert events[0].details["model"] == "answers.querylog"
    everything = b"".join(officer_client.get(f"{HISTORY}export-csv/").streaming_content).decode()
    assert "Beta-only secret question?" not in everything


def test_compliance_staff_read_feedback_but_cannot_review_or_delete_it(officer_client, history):
    feedback = history["feedback"]
    rows = _rows(officer_client, FEEDBACK)
    change = officer_client.post(f"{FEEDBACK}{feedback.pk}/change/", {"must_contain": '["x"]'})
    delete = officer_client.post(f"{FEEDBACK}{feedback.pk}/delete/", {"post": "yes"})
    bulk = officer_client.post(FEEDBACK, {"action": "mark_reviewed", "_selected_action": [feedback.pk]})

    assert [row.comment for row in rows] == ["too short"]
    assert (change.status_code, delete.status_code) == (403, 403)
    assert bulk.status_code in (200, 302)
    with schema_context("alpha"):
        assert Feedback.objects.get(pk=feedback.pk).reviewed is False


def test_tenant_admins_review_feedback_and_each_review_is_audited(admin_client, history):
    feedback = history["feedback"]
    with new_events() as events:
        response = admin_client.post(
            f"{FEEDBACK}{feedback.pk}/change/", {"must_contain": '["30 days"]', "must_not_contain": '["no refunds"]'}
        )

    assert response.status_code == 302
    with schema_context("alpha"):
        reviewed = Feedback.objects.get(pk=feedback.pk)
    assert (reviewed.reviewed, reviewed.must_contain, reviewed.must_not_contain) == (True, ["30 days"], ["no refunds"])
    assert events.actions() == ["admin.change"]
    assert events[0].target_label == f"feedback:{feedback.pk}"


def test_bad_review_phrases_are_refused_in_the_form(admin_client, history):
    feedback = history["feedback"]
    response = admin_client.post(f"{FEEDBACK}{feedback.pk}/change/", {"must_contain": '"30 days"'})

    assert response.status_code == 200
    assert "must be a list of phrases" in response.content.decode()


def test_the_bulk_review_action_audits_every_row(admin_client, history):
    with schema_context("alpha"):
        second = feedback_submit(user=history["bob"], query_id=history["bobs"].pk, rating=1)
    with new_events() as events:
        admin_client.post(
            FEEDBACK, {"action": "mark_reviewed", "_selected_action": [history["feedback"].pk, second.pk]}
        )

    assert events.actions() == ["admin.change", "admin.change"]
    with schema_context("alpha"):
        assert Feedback.objects.filter(reviewed=True).count() == 2
