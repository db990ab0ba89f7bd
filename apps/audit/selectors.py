"""Reads of the audit trail: chain verification and the segments retention may archive."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from .chain import event_hash
from .models import GENESIS_HASH, AuditChainHead, AuditEvent

ARCHIVE_ACTION = "audit.archive"


@dataclass(frozen=True)
class ChainVerdict:
    ok: bool
    checked: int
    first_sequence: int | None = None
    last_sequence: int | None = None
    broken_at: int | None = None
    problem: str = ""

    def describe(self) -> str:
        if self.ok:
            if not self.checked:
                return "OK: the audit chain is empty"
            return f"OK: {self.checked} events verified (#{self.first_sequence} to #{self.last_sequence})"
        return f"BROKEN at event #{self.broken_at}: {self.problem}"


def audit_chain_verify() -> ChainVerdict:
    """Recompute every link of the current schema's chain and report the first broken one."""
    events = AuditEvent.objects.order_by("sequence")
    first = events.first()
    if first is None:
        return _verdict_for_empty_chain()
    expected_sequence, expected_prev = first.sequence, _expected_prev_hash_of_first(first)
    if expected_prev is None:
        return ChainVerdict(
            ok=False,
            checked=0,
            broken_at=first.sequence,
            problem=f"the chain starts at #{first.sequence}, and no audit.archive event records the purge of "
            f"#1 to #{first.sequence - 1} (events deleted at the start)",
        )
    checked, previous = 0, None
    for event in events.iterator(chunk_size=2000):
        problem = _link_problem(event, expected_sequence, expected_prev)
        if problem:
            return ChainVerdict(ok=False, checked=checked, broken_at=expected_sequence, problem=problem)
        checked, previous = checked + 1, event
        expected_sequence, expected_prev = event.sequence + 1, event.hash
    assert previous is not None
    return _verdict_against_head(previous, checked=checked, first_sequence=first.sequence)


def _link_problem(event: AuditEvent, expected_sequence: int, expected_prev: str) -> str:
    if event.sequence != expected_sequence:
        gap = f"#{expected_sequence}" + (f" to #{event.sequence - 1}" if event.sequence > expected_sequence + 1 else "")
        return f"{gap} missing: the next stored event is #{event.sequence} (deleted, or sequence numbers changed)"
    if event.prev_hash != expected_prev:
        return (
            "prev_hash does not match the hash of the event before it "
            "(an event was deleted, inserted or the rows were reordered)"
        )
    if event_hash(event) != event.hash:
        return "the stored content does not match its hash (a field of this event was changed)"
    return ""


def _expected_prev_hash_of_first(first: AuditEvent) -> str | None:
    """Genesis for a complete chain; after retention, the hash the archive event recorded."""
    if first.sequence == 1:
        return GENESIS_HASH
    archive = (
        AuditEvent.objects.filter(action=ARCHIVE_ACTION, details__last_sequence=first.sequence - 1)
        .order_by("sequence")
        .first()
    )
    if archive is None:
        return None
    return str(archive.details.get("last_purged_hash", ""))


def _verdict_for_empty_chain() -> ChainVerdict:
    head = AuditChainHead.objects.filter(pk=1).first()
    if head is not None and head.sequence > 0:
        return ChainVerdict(
            ok=False,
            checked=0,
            broken_at=1,
            problem=f"no events are stored, but the chain head records #{head.sequence} (all events deleted)",
        )
    return ChainVerdict(ok=True, checked=0)


def _verdict_against_head(last: AuditEvent, *, checked: int, first_sequence: int) -> ChainVerdict:
    head = AuditChainHead.objects.filter(pk=1).first()
    if head is not None and (head.sequence != last.sequence or head.hash != last.hash):
        return ChainVerdict(
            ok=False,
            checked=checked,
            broken_at=last.sequence + 1,
            problem=f"the chain head records #{head.sequence}, but the last stored event is #{last.sequence} "
            "(events deleted at the end, or the head was changed)",
        )
    return ChainVerdict(ok=True, checked=checked, first_sequence=first_sequence, last_sequence=last.sequence)


def audit_expired_segment(*, older_than: datetime) -> tuple[int, int] | None:
    """The first and last sequence of the oldest run of events created before `older_than`.

    A prefix of the chain only: retention never cuts a hole into the middle of it.
    """
    first = AuditEvent.objects.order_by("sequence").values_list("sequence", flat=True).first()
    if first is None:
        return None
    newer = (
        AuditEvent.objects.filter(created_at__gte=older_than)
        .order_by("sequence")
        .values_list("sequence", flat=True)
        .first()
    )
    if newer is None:
        last = AuditEvent.objects.order_by("-sequence").values_list("sequence", flat=True).first()
    else:
        last = newer - 1
    if last is None or last < first:
        return None
    return first, last
