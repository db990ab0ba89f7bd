"""The audit trail is a hash chain: every kind of tampering is found by verify_audit_chain."""

from __future__ import annotations

import itertools

import pytest
from django.core.management import CommandError, call_command
from django.db import connection

from apps.audit.chain import event_hash
from apps.audit.models import GENESIS_HASH, AuditEvent
from apps.audit.selectors import audit_chain_verify
from apps.audit.services import audit_event_record
from tests.audit.helpers import make_user

pytestmark = pytest.mark.django_db


def _tamper(sql: str, params: list | None = None) -> None:
    """What someone with the table owner's rights could do: switch the guard off and write."""
    with connection.cursor() as cursor:
        cursor.execute("ALTER TABLE audit_auditevent DISABLE TRIGGER USER")
        cursor.execute(sql, params or [])
        cursor.execute("ALTER TABLE audit_auditevent ENABLE TRIGGER USER")


@pytest.fixture
def five_events(in_alpha) -> list[AuditEvent]:
    base = AuditEvent.objects.order_by("-sequence").values_list("sequence", flat=True).first() or 0
    actor = make_user()
    events = [
        audit_event_record(action="test.step", actor=actor, target=actor, details={"step": index, "ratio": 2.0})
        for index in range(5)
    ]
    assert [event.sequence for event in events] == list(range(base + 1, base + 6))
    return events


def test_each_event_links_to_the_previous_one_and_hashes_its_content(five_events):
    for previous, event in itertools.pairwise(five_events):
        assert event.prev_hash == previous.hash
    stored = AuditEvent.objects.get(pk=five_events[2].pk)
    assert event_hash(stored) == stored.hash == five_events[2].hash
    assert stored.actor_label.startswith("user:")
    assert stored.target_label == stored.actor_label
    first = AuditEvent.objects.order_by("sequence").first()
    assert first.sequence == 1
    assert first.prev_hash == GENESIS_HASH
    assert audit_chain_verify().ok


def test_verify_command_prints_ok(five_events, capsys):
    call_command("verify_audit_chain", "--tenant", "alpha")
    assert "OK" in capsys.readouterr().out


def test_a_changed_field_is_found(five_events):
    target = five_events[2]
    _tamper("UPDATE audit_auditevent SET action = 'test.innocent' WHERE id = %s", [target.pk])

    verdict = audit_chain_verify()

    assert not verdict.ok
    assert verdict.broken_at == target.sequence
    assert "field of this event was changed" in verdict.problem
    with pytest.raises(CommandError, match=f"#{target.sequence}") as raised:
        call_command("verify_audit_chain", "--tenant", "alpha")
    assert raised.value.returncode == 1


def test_changed_details_are_found(five_events):
    _tamper("UPDATE audit_auditevent SET details = '{\"step\": 99}' WHERE id = %s", [five_events[0].pk])
    assert audit_chain_verify().broken_at == five_events[0].sequence


def test_a_deleted_row_is_found(five_events):
    _tamper("DELETE FROM audit_auditevent WHERE id = %s", [five_events[1].pk])

    verdict = audit_chain_verify()

    assert verdict.broken_at == five_events[1].sequence
    assert "missing" in verdict.problem


def test_a_deleted_last_row_is_found(five_events):
    _tamper("DELETE FROM audit_auditevent WHERE id = %s", [five_events[-1].pk])

    verdict = audit_chain_verify()

    assert not verdict.ok
    assert "end" in verdict.problem


def test_reordered_rows_are_found(five_events):
    second, third = five_events[1], five_events[2]
    _tamper(
        "UPDATE audit_auditevent SET sequence = CASE id WHEN %s THEN %s ELSE %s END WHERE id IN (%s, %s)",
        [second.pk, -1, -2, second.pk, third.pk],
    )
    _tamper("UPDATE audit_auditevent SET sequence = %s WHERE sequence = -1", [third.sequence])
    _tamper("UPDATE audit_auditevent SET sequence = %s WHERE sequence = -2", [second.sequence])

    verdict = audit_chain_verify()

    assert verdict.broken_at == second.sequence


def test_a_row_rewritten_with_a_fresh_hash_breaks_the_next_link(five_events):
    """Recomputing the changed row's own hash does not help: the next row still points at the old one."""
    target = AuditEvent.objects.get(pk=five_events[1].pk)
    target.target_label = "someone else"
    _tamper(
        "UPDATE audit_auditevent SET target_label = %s, hash = %s WHERE id = %s",
        [target.target_label, event_hash(target), target.pk],
    )

    verdict = audit_chain_verify()

    assert verdict.broken_at == five_events[2].sequence
    assert "prev_hash" in verdict.problem


def test_verify_refuses_unknown_tenants():
    with pytest.raises(CommandError, match="no active tenant"):
        call_command("verify_audit_chain", "--tenant", "nosuchtenant")
