"""The application's database role cannot change or remove audit rows; only retention may delete."""

from __future__ import annotations

import threading

import pytest
from django.db import DatabaseError, connection, transaction

from apps.audit.models import AuditEvent, AuditEventImmutable
from apps.audit.selectors import audit_chain_verify
from apps.audit.services import audit_event_record
from apps.tenants.context import in_tenant
from tests.support.committed import committed_tenant


@pytest.fixture
def event(in_alpha) -> AuditEvent:
    return audit_event_record(action="test.append_only", target="row under test")


@pytest.mark.django_db
@pytest.mark.parametrize(
    "statement",
    [
        "UPDATE audit_auditevent SET action = 'x' WHERE id = %s",
        "DELETE FROM audit_auditevent WHERE id = %s",
        "TRUNCATE audit_auditevent",
    ],
)
def test_the_app_role_cannot_update_delete_or_truncate(event, statement):
    with pytest.raises(DatabaseError, match="append-only"), transaction.atomic(), connection.cursor() as cursor:
        cursor.execute(statement, [event.pk] if "%s" in statement else [])
    assert AuditEvent.objects.get(pk=event.pk).action == "test.append_only"


@pytest.mark.django_db
def test_the_orm_refuses_changes_before_the_database_does(event):
    event.action = "changed"
    with pytest.raises(AuditEventImmutable):
        event.save()
    with pytest.raises(AuditEventImmutable):
        event.delete()
    with pytest.raises(AuditEventImmutable):
        AuditEvent.objects.filter(pk=event.pk).update(action="changed")
    with pytest.raises(AuditEventImmutable):
        AuditEvent.objects.filter(pk=event.pk).delete()


def _update_with_retention_flag(event_id: int) -> None:
    with transaction.atomic(), connection.cursor() as cursor:
        cursor.execute("SET LOCAL portal.audit_retention = 'on'")
        cursor.execute("UPDATE audit_auditevent SET action = 'x' WHERE id = %s", [event_id])


@pytest.mark.django_db
def test_updates_stay_refused_even_with_the_retention_flag(event):
    with pytest.raises(DatabaseError, match="append-only"):
        _update_with_retention_flag(event.pk)


def _failing_action() -> None:
    with transaction.atomic():
        audit_event_record(action="test.rolled_back")
        raise RuntimeError("the action failed")


@pytest.mark.django_db
def test_an_event_rolls_back_with_the_action_it_records(in_alpha):
    before = AuditEvent.objects.count()
    with pytest.raises(RuntimeError):
        _failing_action()
    assert AuditEvent.objects.count() == before
    after = audit_event_record(action="test.next")
    assert after.sequence == before + 1
    assert audit_chain_verify().ok


def test_concurrent_writers_never_fork_the_chain(committed_db):
    writers, per_writer = 4, 15
    with committed_tenant("audit") as tenant:
        errors: list[BaseException] = []

        def write() -> None:
            try:
                with in_tenant(tenant.schema_name):
                    for index in range(per_writer):
                        with transaction.atomic():
                            audit_event_record(action="test.concurrent", details={"index": index})
            except BaseException as error:  # noqa: BLE001 - reported by the main thread
                errors.append(error)
            finally:
                connection.close()

        threads = [threading.Thread(target=write) for _ in range(writers)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(60)

        assert not errors
        with in_tenant(tenant.schema_name):
            sequences = list(
                AuditEvent.objects.filter(action="test.concurrent")
                .order_by("sequence")
                .values_list("sequence", flat=True)
            )
            assert len(sequences) == writers * per_writer
            assert len(set(AuditEvent.objects.values_list("prev_hash", flat=True))) == AuditEvent.objects.count()
            verdict = audit_chain_verify()
            assert verdict.ok, verdict.describe()
