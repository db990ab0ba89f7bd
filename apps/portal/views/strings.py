"""Texts the page scripts show, translated on the server and handed over with `json_script`.

One catalogue (locale/*/LC_MESSAGES/django.po) serves templates, Python and JavaScript alike.
"""

from __future__ import annotations

from django.utils.translation import gettext as _

from ..templatetags.portal_labels import STATUS_LABELS

JOB_STATUSES = ("queued", "running", "succeeded", "failed", "skipped")


def job_strings() -> dict[str, str]:
    return {
        **{status: str(STATUS_LABELS[status]) for status in JOB_STATUSES},
        "reconnecting": _("Live updates paused; reconnecting…"),
    }


def ask_strings() -> dict[str, str]:
    return {
        "connecting": _("Connecting…"),
        "thinking": _("Searching your documents…"),
        "streaming": _("Answering…"),
        "done": _("Answer complete."),
        "stopped": _("Stopped."),
        "no_sources": _("No sources were cited."),
        "show_passage": _("Show passage"),
        "understood_as": _("Understood as:"),
        "sources_and_feedback": _("Sources and feedback"),
        "connection_lost": _("The connection was lost. Reload the page to try again."),
        "outcome_refused": _("There is not enough evidence in your documents to answer this."),
        "outcome_blocked": _("This question cannot be answered."),
    }
