"""Audit retention archives the expired start of the chain, purges it, and the chain still verifies."""

from __future__ import annotations

import hashlib
import json

import pytest
from django.core.files.storage import FileSystemStorage
from django.core.management import CommandError, call_command
from django.utils import timezone

from apps.audit.chain import archive_problem
from apps.audit.models import AuditEvent
from apps.audit.retention import AuditChainBroken, audit_events_archive_expired
from apps.audit.selectors import audit_chain_verify
from apps.audit.services import audit_event_record

from .test_chain import _tamper

pytestmark = pytest.mark.django_db


@pytest.fixture
def storage(tmp_path) -> FileSystemStorage:
    return FileSystemStorage(location=tmp_path)


@pytest.fixture
def old_and_new(in_alpha):
    old = [audit_event_record(action="test.old", details={"n": n}) for n in range(3)]
    cutoff = timezone.now()
    new = [audit_event_record(action="test.new", details={"n": n}) for n in range(2)]
    return old, cutoff, new


def test_expired_events_are_archived_then_purged_and_the_chain_still_verifies(old_and_new, storage, capsys):
    old, cutoff, new = old_and_new
    first_sequence = AuditEvent.objects.order_by("sequence").first().sequence

    result = audit_events_archive_expired(older_than=cutoff, storage=storage)

    assert (result.first_sequence, result.last_sequence) == (first_sequence, old[-1].sequence)
    remaining = list(AuditEvent.objects.order_by("sequence"))
    assert remaining[0].sequence == new[0].sequence
    assert [event.action for event in remaining] == ["test.new", "test.new", "audit.archive"]
    archive_event = remaining[-1]
    assert archive_event.details["last_purged_hash"] == old[-1].hash
    assert archive_event.details["archive_sha256"] == result.archive_sha256
    verdict = audit_chain_verify()
    assert verdict.ok, verdict.describe()
    assert verdict.first_sequence == new[0].sequence

    data = storage.open(result.archive_name).read()
    assert hashlib.sha256(data).hexdigest() == result.archive_sha256
    lines = [json.loads(line) for line in data.decode().splitlines()]
    assert [line["sequence"] for line in lines] == list(range(first_sequence, old[-1].sequence + 1))
    assert lines[-1]["hash"] == old[-1].hash
    # The archive verifies on its own, and against the event that recorded it.
    assert archive_problem(data) == (
        "",
        {
            "lines": len(lines),
            "first_sequence": first_sequence,
            "last_sequence": old[-1].sequence,
            "last_hash": old[-1].hash,
        },
    )
    call_command("verify_audit_chain", "--tenant", "alpha", "--archive", storage.path(result.archive_name))
    assert f"recorded by event #{archive_event.sequence}" in capsys.readouterr().out


def test_a_changed_archive_is_found(old_and_new, storage, capsys):
    _, cutoff, _ = old_and_new
    result = audit_events_archive_expired(older_than=cutoff, storage=storage)
    path = storage.path(result.archive_name)
    with open(path, "rb") as handle:
        data = handle.read()
    with open(path, "wb") as handle:
        handle.write(data.replace(b'"test.old"', b'"test.odd"', 1))

    with pytest.raises(CommandError, match="line 1"):
        call_command("verify_audit_chain", "--tenant", "alpha", "--archive", path)


def test_a_second_archive_continues_from_the_first(old_and_new, storage):
    _, cutoff, _ = old_and_new
    audit_events_archive_expired(older_than=cutoff, storage=storage)
    later = timezone.now()
    audit_event_record(action="test.newest")

    second = audit_events_archive_expired(older_than=later, storage=storage)

    assert second is not None
    assert second.count == 3
    assert audit_chain_verify().ok


def test_nothing_expired_purges_nothing(in_alpha, storage):
    audit_event_record(action="test.fresh")
    before = AuditEvent.objects.count()

    assert (
        audit_events_archive_expired(older_than=timezone.now() - timezone.timedelta(days=365), storage=storage) is None
    )
    assert AuditEvent.objects.count() == before


def test_dry_run_changes_nothing(old_and_new, storage):
    _, cutoff, _ = old_and_new
    before = AuditEvent.objects.count()

    result = audit_events_archive_expired(older_than=cutoff, dry_run=True, storage=storage)

    assert result.dry_run
    assert result.count >= 3
    assert AuditEvent.objects.count() == before
    assert storage.listdir("")[1] == []


def test_a_tampered_chain_is_never_purged(old_and_new, storage):
    old, cutoff, _ = old_and_new
    _tamper("UPDATE audit_auditevent SET action = 'x' WHERE id = %s", [old[0].pk])
    before = AuditEvent.objects.count()

    with pytest.raises(AuditChainBroken, match="BROKEN"):
        audit_events_archive_expired(older_than=cutoff, storage=storage)
    assert AuditEvent.objects.count() == before


def test_purged_events_without_their_archive_event_are_found(old_and_new, storage):
    _, cutoff, _ = old_and_new
    audit_events_archive_expired(older_than=cutoff, storage=storage)
    archive_event = AuditEvent.objects.get(action="audit.archive")
    _tamper("UPDATE audit_auditevent SET details = '{}' WHERE id = %s", [archive_event.pk])

    verdict = audit_chain_verify()

    assert not verdict.ok
    assert "no audit.archive event" in verdict.problem
