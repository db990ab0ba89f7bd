"""The verifier keeps a sentence only when a passage it cites supports it, numbers included."""

from __future__ import annotations

import pytest

from apps.answers.steps.verifier import Evidence, sentence_verify
from apps.integrations.llm.base import EvidencePassage

pytestmark = pytest.mark.integration  # the paraphrase check embeds (Redis cache)

EVIDENCE = Evidence(
    [
        EvidencePassage(
            number=1,
            chunk_id=11,
            document_id=1,
            title="Customer Refund Policy",
            text="Customers may request a full refund within 30 days of the original purchase date. "
            "Refunds above EUR 5,000 need approval from the Head of Finance.",
        ),
        EvidencePassage(
            number=2,
            chunk_id=12,
            document_id=2,
            title="Office locations",
            text="The Berlin office is at Torstrasse 1 and opens at 8:00.",
        ),
    ]
)


@pytest.mark.parametrize(
    ("sentence", "kept", "supporting", "reason"),
    [
        ("Customers may request a full refund within 30 days [1].", True, (1,), ""),
        ("Refunds above EUR 5000 need approval from the Head of Finance [1].", True, (1,), ""),
        ("A full refund is possible within 30 days of purchase [1][2].", True, (1,), ""),
        ("Customers may request a full refund within 45 days [1].", False, (), "unsupported_number"),
        ("Customers may request a full refund within 30 days [2].", False, (), "unsupported"),
        ("Customers may request a full refund within 30 days [7].", False, (), "unknown_citation"),
        ("Customers may request a full refund within 30 days.", False, (), "uncited"),
        ("The Berlin office opens at 8:00 [2].", True, (2,), ""),
    ],
)
def test_sentence_verdicts(sentence, kept, supporting, reason):
    verdict = sentence_verify(sentence, evidence=EVIDENCE)
    assert (verdict.kept, verdict.supporting, verdict.reason) == (kept, supporting, reason)


def test_a_paraphrase_is_supported_through_embedding_similarity():
    verdict = sentence_verify("Buyers can get all their money back during the first 30 days [1].", evidence=EVIDENCE)
    assert verdict.kept
