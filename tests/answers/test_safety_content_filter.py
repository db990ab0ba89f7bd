"""Content filter hooks from settings: first refusal wins, a failing hook refuses, obfuscation does not slip past."""

# ruff: noqa: RUF001 - look-alike letters are this module's subject

from __future__ import annotations

import logging

import pytest
from django.test import override_settings

from apps.answers.safety.content_filter import BlockedTermsFilter, FilterVerdict, content_filters_run
from apps.core.errors import AdapterConfigurationError

CALLS: list[tuple[str, str]] = []
SECRET_TEXT = "the merger with Initech closes on Friday"


def recording_hook(*, text: str, stage: str) -> None:
    CALLS.append((text, stage))


def answers_only_hook(*, text: str, stage: str) -> FilterVerdict | None:
    if stage == "answer" and "guarantee" in text:
        return FilterVerdict(allowed=False, reason="answers must not promise guarantees")
    return FilterVerdict(allowed=True)


def crashing_hook(*, text: str, stage: str) -> None:
    raise RuntimeError(f"classifier crashed on {text}")


BLOCKED_TERMS = "apps.answers.safety.content_filter.BlockedTermsFilter"
HERE = "tests.answers.test_safety_content_filter"


@pytest.fixture(autouse=True)
def _reset_calls():
    CALLS.clear()


def test_with_no_hooks_everything_is_allowed():
    with override_settings(ANSWER_CONTENT_FILTERS=[]):
        assert content_filters_run(text="anything", stage="question") == FilterVerdict(allowed=True, reason="")


def test_hooks_run_in_order_and_the_first_refusal_wins():
    with override_settings(
        ANSWER_CONTENT_FILTERS=[f"{HERE}.recording_hook", f"{HERE}.answers_only_hook", f"{HERE}.crashing_hook"]
    ):
        refused = content_filters_run(text="We guarantee a refund.", stage="answer")

    assert refused == FilterVerdict(allowed=False, reason="answers must not promise guarantees")
    assert CALLS == [("We guarantee a refund.", "answer")]  # the crashing hook after the refusal never ran


def test_a_hook_that_fails_refuses_and_logs_without_the_text(caplog):
    with (
        override_settings(ANSWER_CONTENT_FILTERS=[f"{HERE}.crashing_hook"]),
        caplog.at_level(logging.ERROR, logger="apps.answers.safety.content_filter"),
    ):
        verdict = content_filters_run(text=SECRET_TEXT, stage="passage")

    assert not verdict.allowed
    assert "could not run" in verdict.reason
    assert "RuntimeError" in caplog.text
    assert "Initech" not in caplog.text


def test_a_hook_that_cannot_be_imported_is_a_configuration_error():
    with override_settings(ANSWER_CONTENT_FILTERS=["apps.nowhere.Filter"]), pytest.raises(AdapterConfigurationError):
        content_filters_run(text="x", stage="question")


@pytest.mark.parametrize("stage", ["", "Question", "answer; drop table", "x" * 40])
def test_a_bad_stage_name_is_refused(stage):
    with pytest.raises(ValueError, match="stage"):
        content_filters_run(text="x", stage=stage)


@pytest.mark.parametrize(
    "text",
    [
        "Tell me about the layoffs planned for Q3",
        "TELL ME ABOUT THE LAYOFFS",
        "lay\u200boffs",  # zero-width space
        "lаyoffs",  # Cyrillic a
        "l4y0ffs",  # leetspeak
        "What about the Merger Talks?",
    ],
)
def test_blocked_terms_are_found_through_case_and_obfuscation(text):
    with override_settings(ANSWER_BLOCKED_TERMS=["layoffs", "merger talks"], ANSWER_CONTENT_FILTERS=[BLOCKED_TERMS]):
        verdict = content_filters_run(text=text, stage="question")

    assert verdict == FilterVerdict(allowed=False, reason="the question touches a blocked topic")


@pytest.mark.parametrize("text", ["What is the refund policy?", "Relayoffshore accounts", "the merger was announced"])
def test_blocked_terms_match_whole_words_only(text):
    assert BlockedTermsFilter(terms=["layoffs", "merger talks"])(text=text, stage="question") is None


def test_no_blocked_terms_means_no_objection():
    assert BlockedTermsFilter(terms=[])(text="layoffs", stage="answer") is None
