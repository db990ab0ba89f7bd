"""How passages are read into sentences: section headings, plain-text headings, and records of tables and JSON."""

from __future__ import annotations

from pathlib import Path

from apps.answers.evidence.records import records_render
from apps.answers.evidence.text import (
    passage_excerpt,
    passage_label,
    passage_units,
    question_focus,
    question_terms,
    term_set,
    terms,
)

HANDBOOK = Path(__file__).resolve().parents[2] / "docs" / "samples" / "handbook"


def test_a_plain_text_heading_above_its_paragraph_is_a_heading_not_part_of_the_first_sentence():
    text = (
        "ONBOARDING CHECKLIST\n\nBefore your first day\nYour manager orders your laptop and creates your\n"
        "accounts.\nDay one\nCollect your laptop and badge at the IT service desk at 9:00. Have lunch with your team."
    )
    headings, units = passage_units(text)

    assert headings == ["ONBOARDING CHECKLIST", "Before your first day", "Day one"]
    assert [(unit.heading, unit.text) for unit in units] == [
        ("Before your first day", "Your manager orders your laptop and creates your accounts."),
        ("Day one", "Collect your laptop and badge at the IT service desk at 9:00."),
        ("Day one", "Have lunch with your team."),
    ]


def test_a_wrapped_paragraph_is_not_mistaken_for_headings():
    text = (
        "Customers may request a full refund within 30 days of the original purchase date. The request must\n"
        "come from the account owner."
    )
    headings, units = passage_units(text)

    assert headings == []
    assert [unit.text for unit in units][-1] == "The request must come from the account owner."


def test_csv_rows_become_one_readable_sentence_each():
    rows = [
        "office: Headquarters; city: Berlin; reception_phone: +49 30 5550 1000; opening_hours: 08:00-18:00",
        "office: Sales office; city: Munich; reception_phone: +49 89 5550 2000",
    ]
    assert records_render(rows) == [
        "Office: Headquarters; city: Berlin; reception phone: +49 30 5550 1000; opening hours: 08:00-18:00.",
        "Office: Sales office; city: Munich; reception phone: +49 89 5550 2000.",
    ]


def test_json_array_items_are_records_and_object_keys_are_facts():
    lines = [
        "service_desk.email: it-help@northwind.example",
        "service_desk.hours: Monday to Friday, 08:00 to 19:00",
        "common_requests[0].request: New software",
        "common_requests[0].how: Open a ticket in the service portal; approval by your manager",
        "common_requests[1].request: Password reset",
        "common_requests[1].how: Use self-service reset.",
    ]
    assert records_render(lines) == [
        "Service desk — email: it-help@northwind.example.",
        "Service desk — hours: Monday to Friday, 08:00 to 19:00.",
        "Common requests — request: New software; how: Open a ticket in the service portal; approval by your manager.",
        "Common requests — request: Password reset; how: Use self-service reset.",
    ]


def test_prose_with_a_colon_is_not_a_record():
    assert records_render(["Owner: Finance Operations. Applies to all products."]) is None
    assert records_render(["Note: read this first", "Then the rest follows here."]) is None


def test_the_question_sentence_of_a_situation_is_its_focus():
    assert question_focus("I am a guardian of a 16-year-old boy. Can I change his surname?") == (
        "Can I change his surname?"
    )
    assert question_focus("How many vacation days do I get?") is None
    # A final sentence without a content word asks about the story itself: the whole question counts.
    assert question_focus("Someone stole my laptop on the train. What should I do?") is None
    # "possible" only frames the question: the story is what is asked about.
    assert question_focus("A customer wants money back for training we delivered. Is that possible?") is None
    assert question_focus("A customer wants money back. Is a refund possible?") == "Is a refund possible?"


def test_words_that_only_frame_a_question_are_not_its_terms():
    assert question_terms("What happens if I lose a receipt?") == term_set("lose receipt")
    assert question_terms("Am I allowed to fly business class?") == term_set("fly business class")
    assert question_terms("Who do I email if I think I got a phishing mail?") == term_set("email phishing mail")
    assert question_terms("My VPN isn't working, what should I do?") == term_set("VPN working")
    # Only the question loses them: a passage's own words are all kept.
    assert "allow" in term_set("Pets are not allowed in the office.")


def test_a_citation_names_the_section_or_the_first_words_of_its_passage():
    assert passage_label("Customer Refund Policy > Eligibility\n\nCustomers may request a full refund.") == (
        "Eligibility"
    )
    long_text = "# Refund\n\nCustomers may request a full refund within 30 days of the original purchase date."
    assert passage_label(long_text, title="Refund") == "Customers may request a full refund within 30…"
    assert passage_label("office: HQ; city: Berlin") == ""  # a table row: the title names it well enough


def test_a_citation_carries_its_passage_as_a_reader_sees_it():
    text = "Customer Refund Policy > Eligibility\n\nCustomers may request a full refund within 30 days. " + (
        "Refunds go to the original payment method. " * 40
    )
    excerpt = passage_excerpt(text)

    assert excerpt.startswith("Customers may request a full refund within 30 days.")
    assert "Eligibility" not in excerpt  # the heading path is the citation's label, not its text
    assert excerpt.endswith(" …")
    assert len(excerpt) <= 1300


def test_a_sentence_covers_a_question_without_repeating_its_framing_words():
    from apps.answers.evidence import sentences_rank
    from apps.integrations.llm.base import EvidencePassage

    passage = EvidencePassage(
        number=1,
        chunk_id=1,
        document_id=1,
        title="Travel and Expenses",
        text="Reports without receipts are only reimbursed up to EUR 25 per item.",
    )
    (ranked,) = sentences_rank(question="What happens if I lose a receipt?", passages=[passage])
    assert ranked.coverage == 0.5  # "receipt" of {lose, receipt}; "happens" asks, it is not asked about


def test_contractions_leave_no_fragments_among_the_terms():
    assert terms("It doesn't work and I can't log in; I'm stuck.") == terms(
        "It does not work and I can not log in; I stuck."
    )
    assert terms("the company\u2019s VPN won't start") == terms("the company VPN will not start")
    assert not {"t", "s", "m", "isn", "won"} & set(terms("Isn't it? It won't, it's Tom's, I'm sure."))
