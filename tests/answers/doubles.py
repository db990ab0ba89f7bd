"""Content filter hooks for tests, plugged in through settings.ANSWER_CONTENT_FILTERS like a deployment's own."""

from __future__ import annotations

from apps.answers.safety.content_filter import FilterVerdict


def refuse_answers_naming_the_head_of_finance(*, text: str, stage: str) -> FilterVerdict | None:
    if stage == "answer" and "head of finance" in text.casefold():
        return FilterVerdict(allowed=False, reason="names a person's role")
    return None


def refuse_passages_about_falcon(*, text: str, stage: str) -> FilterVerdict | None:
    if stage == "passage" and "falcon" in text.casefold():
        return FilterVerdict(allowed=False, reason="confidential project")
    return None
