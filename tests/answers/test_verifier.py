"""The verifier keeps a sentence only when a passage it cites supports it, numbers included."""

from __future__ import annotations

import pytest

from apps.answers.steps.verifier import Evidence, model_refusal, sentence_verify
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


@pytest.mark.parametrize(
    "sentence",
    [
        "I could not find this in the documents you can access.",
        "I couldn't find the notice period in the passages [1].",
        "The passages do not say how long a refund takes [1].",
        "The provided documents don't mention parking at the Munich office.",
        "None of the passages mention a dress code.",
        "There is no information about pensions in the documents [2].",
        "Ich konnte dazu in den Dokumenten nichts finden, die Dokumente enthalten keine Angabe.",
    ],
)
def test_a_model_saying_the_passages_do_not_answer_is_recognised(sentence):
    assert model_refusal(sentence)
    assert sentence_verify(sentence, evidence=EVIDENCE).reason == "model_refusal"


@pytest.mark.parametrize(
    "sentence",
    [
        "Monthly subscriptions are not refunded after 30 days [1].",
        "Never send customer data to personal email accounts or upload it to public AI tools [1].",
        "Documents must not be shared with customers except through the approved service [1].",
        "The context menu does not provide a reset option [2].",
        "Reports without receipts are only reimbursed up to EUR 25 per item [1].",
    ],
)
def test_an_answer_that_states_a_negative_rule_is_not_taken_for_a_refusal(sentence):
    assert not model_refusal(sentence)
