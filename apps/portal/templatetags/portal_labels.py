"""Readable, translated names for the status codes other apps store (their choices are English)."""

from __future__ import annotations

from django import template
from django.utils.translation import gettext_lazy as _

register = template.Library()

STATUS_LABELS = {
    # documents and ingestion jobs
    "pending": _("Pending"),
    "indexed": _("Indexed"),
    "queued": _("Queued"),
    "running": _("Running"),
    "succeeded": _("Succeeded"),
    "failed": _("Failed"),
    "skipped": _("Skipped"),
    # answers
    "answered": _("Answered"),
    "refused": _("Not enough evidence"),
    "blocked": _("Blocked"),
    "timed_out": _("Timed out"),
    "cancelled": _("Cancelled"),
}


@register.filter
def status_label(code: str) -> str:
    return str(STATUS_LABELS.get(code, code))
