"""The fixed texts the pipeline answers with when it does not compose an answer from evidence."""

from __future__ import annotations

from django.utils.translation import gettext_lazy as _

REFUSAL = _("I could not find this in the documents you can access.")
BLOCKED = _("I can't help with that request: it was stopped by a safety check.")
OUT_OF_SCOPE = _("I can only answer questions about the documents you can access.")
CHIT_CHAT = _("Hello! Ask me a question about your documents and I will answer with sources.")
LOW_COVERAGE_NOTE = _("(The cited documents may not cover every part of the question.)")
TIMED_OUT = _("The answer took too long and was stopped. Please try again.")
FAILED = _("The answer could not be generated. Please try again later.")
BUDGET_EXCEEDED = _("Your organisation's answer budget for today is used up.")
