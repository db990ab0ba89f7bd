"""Evaluation datasets in the BEIR layout, including ones whose corpus is real files (the handbook questions)."""

from __future__ import annotations

import csv
import json
from pathlib import Path

from apps.bench.answers.typos import with_typo
from apps.bench.corpus import corpus_entry_upload
from apps.bench.management.commands.eval_all import HANDBOOK_QUESTION_SETS, MULTIHOP_QUESTIONS
from apps.bench.retrieval.beir import load_dataset

HANDBOOK_QUESTIONS = Path(__file__).resolve().parents[2] / "docs" / "samples" / "handbook-questions"


def test_a_corpus_entry_naming_a_file_is_uploaded_as_that_file():
    dataset = load_dataset(HANDBOOK_QUESTIONS / "dev")
    entries = {entry["_id"]: entry for entry in dataset.corpus()}

    upload = corpus_entry_upload(entries["expenses"])
    assert upload.filename == "expenses.html"
    assert upload.external_id == "expenses"
    assert upload.data == (HANDBOOK_QUESTIONS.parent / "handbook" / "expenses.html").read_bytes()
    assert upload.declared_media_type == ""  # the HTML parser decides, as for any upload


def test_the_handbook_questions_cover_every_document_and_hold_unanswerable_ones():
    for split in HANDBOOK_QUESTION_SETS:
        dataset = load_dataset(HANDBOOK_QUESTIONS / split)
        documents = {entry["_id"] for entry in dataset.corpus()}
        answerable = [query for query in dataset.queries if query.answerable]
        assert {doc for query in answerable for doc in dataset.qrels[query.id]} == documents
        assert all(query.answers for query in answerable)
        assert sum(not query.answerable for query in dataset.queries) >= 10


def test_every_held_out_multi_hop_question_rests_on_two_passages_and_has_an_answer():
    folder = MULTIHOP_QUESTIONS / "heldout"
    queries = [json.loads(line) for line in (folder / "queries.jsonl").read_text(encoding="utf-8").splitlines()]
    with (folder / "qrels" / "test.tsv").open(encoding="utf-8") as handle:
        rows = list(csv.reader(handle, delimiter="\t"))[1:]
    passages: dict[str, set[str]] = {}
    for query_id, corpus_id, score in rows:
        assert score == "1"
        passages.setdefault(query_id, set()).add(corpus_id)

    assert len({query["_id"] for query in queries}) == len(queries) == 45
    assert set(passages) == {query["_id"] for query in queries}
    assert all(len(found) == 2 for found in passages.values())
    assert all(query["answers"] and query["hops"] == 2 for query in queries)
    assert {query["type"] for query in queries} == {"bridge", "comparison"}


def test_a_typo_goes_into_the_longest_word_that_is_no_name():
    assert with_typo("How many vacation days do I get?", "swap") == "How many vactaion days do I get?"
    assert with_typo("How many vacation days do I get?", "drop") == "How many vacaion days do I get?"
    assert with_typo("Where is the Lisbon office?", "swap") == "Where is the Lisbon ofifce?"  # a name stays
    assert with_typo("Who is it?", "swap") == "Who is it?"  # no word long enough
