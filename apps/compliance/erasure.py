"""Erase a person (GDPR art. 17) from one tenant, keeping the audit chain verifiable.

- Query history: the text (question, rewritten follow-up, answer) is replaced and the row unlinked
  from the user; the numbers (latency, tokens, outcome, cited ids) stay for aggregate statistics.
  The person's conversations lose their titles (their first questions) and their owner.
- Feedback the person gave is deleted (it is their words); rows they reviewed lose the reviewer.
- The account keeps its id but loses every personal field and can no longer sign in; its sessions end.
- Change logs (django-auditlog and the admin's log) have the person's names and e-mail replaced by
  the pseudonymous "user:<id>".
- The chained audit trail never held names or free text (actors and user targets are "user:<id>"),
  so it is not rewritten; its IP addresses and user agents are kept for the audit retention period
  as security records. The erasure itself is an audit event ("user.erase").
- Cached answers expire at once: the tenant's index version is bumped, which every cache key carries.
"""

from __future__ import annotations

from dataclasses import dataclass

from auditlog.context import disable_auditlog
from auditlog.models import LogEntry as ChangeLogEntry
from django.contrib.admin.models import LogEntry as AdminLogEntry
from django.contrib.sessions.models import Session
from django.db import transaction
from django.db.models import Q, TextField
from django.db.models.functions import Cast

from apps.accounts.directory import user_session_keys
from apps.accounts.models import User
from apps.answers.models import Conversation, QueryLog
from apps.audit.services import AuditTarget, audit_event_record, user_label
from apps.documents.index_state import index_version_bump
from apps.feedback.models import Feedback

ERASED_TEXT = "[erased]"


@dataclass
class ErasureReport:
    user_id: int
    dry_run: bool
    query_logs: int = 0
    conversations: int = 0
    feedback_deleted: int = 0
    feedback_unlinked_reviewer: int = 0
    change_log_entries: int = 0
    admin_log_entries: int = 0
    sessions: int = 0


def user_erase(*, user_id: int, actor: User | str | None = None, dry_run: bool = False) -> ErasureReport:
    """Erase user `user_id` of the current tenant. Raises User.DoesNotExist for an unknown id."""
    user = User.objects.get(pk=user_id)
    identifiers = _identifiers(user)
    report = ErasureReport(user_id=user.pk, dry_run=dry_run)
    if dry_run:
        report.query_logs = QueryLog.objects.filter(user=user).count()
        report.conversations = Conversation.objects.filter(user=user).count()
        report.feedback_deleted = Feedback.objects.filter(user=user).count()
        report.feedback_unlinked_reviewer = Feedback.objects.filter(reviewed_by=user).exclude(user=user).count()
        report.change_log_entries = len(_change_log_entries_naming(user, identifiers))
        report.admin_log_entries = len(_admin_log_entries_naming(user, identifiers))
        report.sessions = len(user_session_keys(user))
        return report
    with transaction.atomic():
        report.query_logs = QueryLog.objects.filter(user=user).update(
            query=ERASED_TEXT, standalone_query=ERASED_TEXT, answer=ERASED_TEXT, user=None
        )
        report.conversations = Conversation.objects.filter(user=user).update(title=ERASED_TEXT, user=None)
        report.feedback_deleted = Feedback.objects.filter(user=user).delete()[0]
        report.feedback_unlinked_reviewer = Feedback.objects.filter(reviewed_by=user).update(reviewed_by=None)
        report.change_log_entries = _scrub_change_log(user, identifiers)
        report.admin_log_entries = _scrub_admin_log(user, identifiers)
        report.sessions = Session.objects.filter(session_key__in=user_session_keys(user)).delete()[0]
        with disable_auditlog():  # a change log entry would keep the old name and e-mail address
            _anonymise_account(user)
        index_version_bump()  # cached answers to the person's questions become unreachable
        audit_event_record(
            action="user.erase",
            actor=actor,
            target=AuditTarget(type="accounts.user", id=str(user.pk), label=user_label(user.pk)),
            details={key: value for key, value in vars(report).items() if key not in ("user_id", "dry_run")},
        )
    return report


def _identifiers(user: User) -> list[str]:
    """The strings that name the person, longest first (so "alice@x.org" goes before "alice")."""
    values = {user.username, user.email, user.first_name, user.last_name, user.get_full_name()}
    return sorted((value for value in values if value and len(value) >= 3), key=len, reverse=True)


def _anonymise_account(user: User) -> None:
    user.username = f"erased-{user.pk}"
    user.email = user.first_name = user.last_name = ""
    user.is_active = user.is_staff = user.is_superuser = False
    user.set_unusable_password()
    user.save()
    user.groups.clear()
    user.user_permissions.clear()


def _scrub(value: object, identifiers: list[str], pseudonym: str) -> object:
    if isinstance(value, str):
        for identifier in identifiers:
            value = value.replace(identifier, pseudonym)
        return value
    if isinstance(value, list):
        return [_scrub(item, identifiers, pseudonym) for item in value]
    if isinstance(value, dict):
        return {key: _scrub(item, identifiers, pseudonym) for key, item in value.items()}
    return value


def _mentions(field: str, identifiers: list[str]) -> Q:
    query = Q(pk__in=[])
    for identifier in identifiers:
        query |= Q(**{f"{field}__contains": identifier})
    return query


def _change_log_entries_naming(user: User, identifiers: list[str]) -> list[ChangeLogEntry]:
    about_user = Q(content_type__app_label=User._meta.app_label, content_type__model=User._meta.model_name) & Q(
        object_pk=str(user.pk)
    )
    naming = _mentions("object_repr", identifiers) | _mentions("changes_text", identifiers)
    naming |= Q(pk__in=_json_mentions(identifiers)) | Q(actor=user, actor_email__gt="")
    return list(ChangeLogEntry.objects.filter(about_user | naming))


def _json_mentions(identifiers: list[str]) -> list[int]:
    """Entries whose JSON change list, serialized data or extra data contains one of the strings."""
    matches: set[int] = set()
    for column in ("changes", "serialized_data", "additional_data"):
        as_text = ChangeLogEntry.objects.annotate(text=Cast(column, TextField()))
        matches.update(as_text.filter(_mentions("text", identifiers)).values_list("pk", flat=True))
    return sorted(matches)


def _scrub_change_log(user: User, identifiers: list[str]) -> int:
    pseudonym = user_label(user.pk)
    entries = _change_log_entries_naming(user, identifiers)
    for entry in entries:
        entry.object_repr = str(_scrub(entry.object_repr, identifiers, pseudonym))
        if str(entry.object_pk) == str(user.pk) and entry.content_type.model_class() is User:
            entry.object_repr = pseudonym
        entry.changes = _scrub(entry.changes, identifiers, pseudonym)
        entry.changes_text = str(_scrub(entry.changes_text, identifiers, pseudonym))
        entry.serialized_data = _scrub(entry.serialized_data, identifiers, pseudonym)
        entry.additional_data = _scrub(entry.additional_data, identifiers, pseudonym)
        if entry.actor_id == user.pk:
            entry.actor_email = ""
    ChangeLogEntry.objects.bulk_update(
        entries, ["object_repr", "changes", "changes_text", "serialized_data", "additional_data", "actor_email"]
    )
    return len(entries)


def _admin_log_entries_naming(user: User, identifiers: list[str]) -> list[AdminLogEntry]:
    about_user = Q(content_type__app_label=User._meta.app_label, content_type__model=User._meta.model_name) & Q(
        object_id=str(user.pk)
    )
    return list(AdminLogEntry.objects.filter(about_user | _mentions("object_repr", identifiers)))


def _scrub_admin_log(user: User, identifiers: list[str]) -> int:
    pseudonym = user_label(user.pk)
    entries = _admin_log_entries_naming(user, identifiers)
    for entry in entries:
        entry.object_repr = str(_scrub(entry.object_repr, identifiers, pseudonym))[:200]
        if entry.content_type and entry.content_type.model_class() is User and entry.object_id == str(user.pk):
            entry.object_repr = pseudonym
    AdminLogEntry.objects.bulk_update(entries, ["object_repr"])
    return len(entries)
