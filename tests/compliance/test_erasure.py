"""Erasure leaves no trace of the person's words or names, and the audit chain still verifies."""

from __future__ import annotations

import pytest
from auditlog.models import LogEntry as ChangeLogEntry
from django.contrib.admin.models import CHANGE
from django.contrib.admin.models import LogEntry as AdminLogEntry
from django.contrib.contenttypes.models import ContentType
from django.contrib.sessions.models import Session
from django.core.management import CommandError, call_command
from django_tenants.utils import schema_context

from apps.accounts.models import User
from apps.answers.models import QueryLog
from apps.audit.models import AuditEvent
from apps.documents.services import document_access_grant
from apps.feedback.models import Feedback
from apps.feedback.services import feedback_review, feedback_submit
from tests.audit.helpers import new_events
from tests.documents.factories import indexed_document
from tests.feedback.factories import query_log

from .conftest import PASSWORD

pytestmark = pytest.mark.django_db
SECRET_QUESTION = "Is my colleague Jonas on sick leave because of his burnout?"
SECRET_COMMENT = "Please do not tell Jonas I asked"


@pytest.fixture
def alice(client, tenant_alpha):
    with schema_context("alpha"):
        alice = User.objects.create_user(
            username="alice.wonder",
            email="alice.wonder@alpha.example.com",
            password=PASSWORD,
            first_name="Alice",
            last_name="Wonderland",
        )
        bob = User.objects.create_user(username="bob", password=PASSWORD)
        handbook = indexed_document(owner=bob, title="HR handbook", texts=["Sick leave is confidential."])
        document_access_grant(document=handbook, principal=alice, actor=bob)
        mine = query_log(
            user=alice, question=SECRET_QUESTION, answer="Sick leave is confidential.", documents=[handbook]
        )
        feedback_submit(user=alice, query_id=mine.pk, rating=-1, comment=SECRET_COMMENT, corrected_answer="No idea")
        bobs = query_log(user=bob, question="What is the sick leave policy?")
        bobs_feedback = feedback_submit(user=bob, query_id=bobs.pk, rating=1)
        feedback_review(feedback=bobs_feedback, reviewer=alice)
        AdminLogEntry.objects.create(
            user=bob,
            content_type=ContentType.objects.get_for_model(User),
            object_id=str(alice.pk),
            object_repr="alice.wonder",
            action_flag=CHANGE,
        )
        client.force_login(alice)
        audit_event_record_count = AuditEvent.objects.count()
    return {"user": alice, "bob": bob, "bobs": bobs, "events_before": audit_event_record_count}


def _texts() -> list[tuple[str, str]]:
    """(where, text) for every stored place that can hold a person's words or names."""
    texts = [(f"query log {row.pk}", f"{row.query} {row.answer}") for row in QueryLog.objects.all()]
    for feedback in Feedback.objects.all():
        texts.append(
            (f"feedback {feedback.pk}", " ".join([feedback.comment, feedback.corrected_answer, feedback.question]))
        )
    for change in ChangeLogEntry.objects.all():
        parts = [change.object_repr, change.changes, change.changes_text, change.serialized_data, change.actor_email]
        texts.append((f"change log {change.pk}", " ".join(str(part) for part in parts)))
    for entry in AdminLogEntry.objects.all():
        texts.append((f"admin log {entry.pk}", f"{entry.object_repr} {entry.change_message}"))
    for event in AuditEvent.objects.all():
        texts.append((f"audit event {event.sequence}", str([getattr(event, f.name) for f in AuditEvent._meta.fields])))
    for user in User.objects.all():
        texts.append((f"user {user.pk}", f"{user.username} {user.email} {user.first_name} {user.last_name}"))
    return texts


def _traces(identifiers: list[str]) -> list[str]:
    """Every place in the tenant that still holds one of the strings."""
    texts = _texts()
    return [f"{where}: {identifier}" for identifier in identifiers for where, text in texts if identifier in text]


IDENTIFIERS = ["alice.wonder", "Wonderland", "alice.wonder@alpha.example.com", "Jonas", "burnout"]


def test_the_fixture_really_left_traces(alice):
    with schema_context("alpha"):
        assert _traces(IDENTIFIERS)


def test_erasure_leaves_no_trace_and_the_chain_verifies(alice, client, capsys):
    user = alice["user"]
    with new_events() as events:
        call_command("erase_user", "--tenant", "alpha", "--user", str(user.pk))

    assert "erased user" in capsys.readouterr().out
    with schema_context("alpha"):
        assert _traces(IDENTIFIERS) == []
        erased = User.objects.get(pk=user.pk)
        assert (erased.username, erased.email, erased.is_active, erased.has_usable_password()) == (
            f"erased-{user.pk}",
            "",
            False,
            False,
        )
        assert not erased.groups.exists()
        assert QueryLog.objects.filter(query="[erased]", user=None).count() == 1
        assert not Feedback.objects.filter(comment=SECRET_COMMENT).exists()
        # Bob's own history and feedback stay; alice no longer appears as its reviewer.
        assert Feedback.objects.get(user=alice["bob"]).reviewed_by is None
        assert QueryLog.objects.filter(user=alice["bob"]).count() == 1
        # The audit trail keeps referring to the person by id only, unchanged.
        assert AuditEvent.objects.filter(actor_id=alice["bob"].pk, action="acl.grant").exists()
        assert not Session.objects.exists()
    assert events.actions() == ["user.erase"]
    assert events[0].target_label == f"user:{user.pk}"
    assert events[0].details["query_logs"] == 1
    assert client.get("/admin/", HTTP_HOST="alpha.localhost").status_code == 302  # signed out


def test_dry_run_changes_nothing(alice, capsys):
    call_command("erase_user", "--tenant", "alpha", "--user", str(alice["user"].pk), "--dry-run")

    assert "would erase user" in capsys.readouterr().out
    with schema_context("alpha"):
        assert User.objects.get(pk=alice["user"].pk).username == "alice.wonder"
        assert QueryLog.objects.filter(query=SECRET_QUESTION).exists()
        assert AuditEvent.objects.count() == alice["events_before"]


@pytest.mark.parametrize(
    ("arguments", "message"),
    [
        (["--tenant", "alpha", "--user", "alice"], "numeric user id"),
        (["--tenant", "alpha", "--user", "999999"], "no user with id 999999"),
        (["--tenant", "public", "--user", "1"], "tenant schema name is required"),
    ],
)
def test_bad_arguments_are_clear_errors(tenant_alpha, arguments, message):
    with pytest.raises(CommandError, match=message):
        call_command("erase_user", *arguments)
