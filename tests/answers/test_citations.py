"""Sentences cut from a token stream, and citation markers renumbered."""

from __future__ import annotations

import re

from apps.answers.citations import SentenceAssembler, cited_numbers, markers_rewritten
from apps.answers.orchestrator.trace import ExecutionTrace

STREAMED = (
    "Customers may request a full refund within 30 days [1]. After that, e.g. the pro-rated rule applies.[2] "
    "Refunds above EUR 5,000 need approval [1, 2].\n- Training days are not refundable [3]"
)


def test_sentences_are_complete_only_when_the_next_one_has_begun():
    assembler = SentenceAssembler()
    complete = []
    for token in re.findall(r"\S+\s*", STREAMED):
        complete += [sentence.text for sentence in assembler.feed(token)]
        assert all(text.rstrip().endswith(("]", ".")) for text in complete)
    complete += [sentence.text for sentence in assembler.flush()]
    assert complete == [
        "Customers may request a full refund within 30 days [1].",
        "After that, e.g. the pro-rated rule applies.[2]",
        "Refunds above EUR 5,000 need approval [1, 2].",
        "- Training days are not refundable [3]",
    ]


def test_separators_keep_line_breaks():
    assembler = SentenceAssembler()
    sentences = assembler.feed(STREAMED) + assembler.flush()
    assert [sentence.separator for sentence in sentences] == ["", " ", " ", "\n"]


def test_markers_are_parsed_and_renumbered():
    assert cited_numbers("A [2][1]. B [1, 3]") == [2, 1, 3]
    assert markers_rewritten("Approval is needed [1, 2].", {2: 1}) == "Approval is needed [1]."
    assert markers_rewritten("Approval is needed [4].", {}) == "Approval is needed."


def test_each_trace_has_its_own_step_list():
    first, second = ExecutionTrace(trace_id="a"), ExecutionTrace(trace_id="b")
    first.step("planner")
    assert second.steps == []
    assert first.steps is not second.steps
