"""Entity extraction offline: canonical keys, and the extractor that runs without a model."""

from __future__ import annotations

import time

import pytest
from django.test import override_settings

from apps.text.entities import OfflineEntityExtractor, entity_key

from .entity_helpers import extract_one, keys_of

pytestmark = pytest.mark.integration

POLICY_TEXT = (
    "Employees must submit expense reports within 30 days. The Refund Policy covers GDPR requests and "
    'VPN access for the "Project Falcon" team. Contact Dr. Jane Smith at the University of Texas. '
    "However, refund policies in the United Kingdom are different."
)


# --- Keys -----------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "surface",
    ["the Refund Policy", "refund policies", "Refund policy's", "REFUND POLICY", "  refund\tpolicy ", "Refund-Policy"],
)
def test_spellings_of_one_concept_share_a_key(surface):
    assert entity_key(surface) == "refund policy"


@pytest.mark.parametrize(
    ("one", "other"),
    [
        ("U.S.", "US"),
        ("Aschenbrödel", "Aschenbrodel"),
        ("The Beatles", "Beatles"),
        ("Boeing B-29 Superfortress", "Boeing B - 29 Superfortress"),
        ("expense reports", "an expense report"),
        ("companies", "company"),
        ("classes", "class"),
        ("churches", "church"),
        ("movies", "movie"),
        ("Jones' report", "Jones report"),
    ],
)
def test_variants_normalise_to_the_same_key(one, other):
    assert entity_key(one) == entity_key(other)


@pytest.mark.parametrize(
    ("word", "key"), [("GDPR", "gdpr"), ("AWS", "aws"), ("physics", "physics"), ("series", "series")]
)
def test_acronyms_and_singular_looking_words_are_not_clipped(word, key):
    assert entity_key(word) == key


def test_a_key_is_empty_when_nothing_entity_like_is_left():
    assert entity_key("!!! ... ---") == ""
    assert entity_key("") == ""


# --- Offline extraction ---------------------------------------------------------------------------


def test_names_acronyms_quoted_terms_and_concepts_are_found():
    entities = extract_one(POLICY_TEXT, max_per_chunk=30)
    keys = keys_of(entities)

    assert {entity_key(name) for name in ("Jane Smith", "University of Texas", "United Kingdom")} <= keys
    assert {"gdpr", "vpn", "project falcon", "refund policy", "expense report"} <= keys
    kinds = {entity.key: entity.kind for entity in entities}
    assert kinds["gdpr"] == "acronym"
    assert kinds[entity_key("Jane Smith")] == "name"
    assert kinds["expense report"] == "concept"


def test_sentence_openers_and_titles_are_not_part_of_names():
    keys = keys_of(extract_one(POLICY_TEXT, max_per_chunk=30))

    assert "however" not in keys
    assert not any(key.startswith(("the ", "dr ", "however")) for key in keys)


def test_a_name_with_inner_connectors_stays_whole_and_its_tail_is_a_name_too():
    keys = keys_of(extract_one("The Siege of Cassel was a failed attempt by Duke Ferdinand of Brunswick."))

    assert {"siege of cassel", "cassel", "duke ferdinand of brunswick", "brunswick"} <= keys


def test_a_surname_alone_folds_into_the_full_name():
    entities = extract_one("Brand is a play by the Norwegian playwright Henrik Ibsen. Ibsen wrote it in 1865.")
    keys = keys_of(entities)

    assert "henrik ibsen" in keys
    assert "ibsen" not in keys
    assert "brand" in keys  # the sentence is about it, even though it opens the sentence


def test_dates_and_bare_numbers_are_not_entities():
    keys = keys_of(extract_one("On 6 April 1793 the committee met. It grew by 35 members in January 1960."))

    assert not any(character.isdigit() for key in keys for character in key)
    assert not {"april", "january"} & keys


def test_the_number_of_entities_is_capped_and_ranked():
    text = ". ".join(f"Person{index} Lastname{index} met Company{index} Holdings" for index in range(40))

    assert len(extract_one(text)) == 12  # settings.ENTITY_MAX_PER_CHUNK
    with override_settings(ENTITY_MAX_PER_CHUNK=3):
        capped = OfflineEntityExtractor().extract(texts=[text])[0]
    assert len(capped) == 3
    weights = [entity.weight for entity in capped]
    assert weights == sorted(weights, reverse=True)
    assert all(0 < weight <= 1 for weight in weights)


def test_extraction_is_deterministic_and_independent_of_batching():
    texts = [POLICY_TEXT, "Carl Rogers developed person-centered therapy.", ""]
    extractor = OfflineEntityExtractor()

    first = extractor.extract(texts=texts)
    assert extractor.extract(texts=texts) == first
    assert extractor.extract(texts=list(reversed(texts))) == list(reversed(first))
    assert [extractor.extract(texts=[text])[0] for text in texts] == first


@pytest.mark.parametrize("text", ["", "   \n\t ", "... !!! ---", "the and of a", "1234 5678"])
def test_empty_or_contentless_text_gives_no_entities(text):
    assert extract_one(text) == []


@pytest.mark.parametrize(
    "text",
    [
        "A." * 200_000,
        "a-" * 200_000,
        "a+" * 200_000,
        "a_" * 200_000,
        "._" * 200_000,
        "a.b" * 100_000,
        "a@b." * 100_000,
        "'" * 200_000,
        "``" * 100_000,
        "X" * 1_000_000,
        "Big Name " * 100_000,
        "\u202eevil\u202c \x00 Null\x00Byte \u200b Zero\u200bWidth " * 5_000,
        "日本語のテキスト。東京タワー、\uff27\uff24\uff30\uff32。" * 5_000,  # fullwidth "GDPR"
    ],
)
def test_hostile_or_huge_text_is_bounded(text):
    started = time.perf_counter()
    entities = extract_one(text)
    elapsed = time.perf_counter() - started

    assert elapsed < 2
    assert len(entities) <= 12
    assert all(0 < len(entity.key) <= 200 and len(entity.name) <= 200 for entity in entities)


def test_addresses_are_not_entities_and_bullets_still_open_sentences():
    text = "- Travel: see https://intranet.example.com/Travel?Policy=1 or write to Jane.Doe@example.com today."
    keys = keys_of(extract_one(text, max_per_chunk=30))

    assert not any("example" in key or "doe" in key or "intranet" in key for key in keys)
    assert "travel" in keys
    assert next(e for e in extract_one(text) if e.key == "travel").kind == "concept"  # "Travel" opens the line


@pytest.mark.bench
def test_offline_extraction_throughput():
    words = (POLICY_TEXT + " Carl Rogers developed person-centered therapy in the 1940s at Ohio State University. ") * 3
    chunk = " ".join(words.split()[:100])
    texts = [f"{chunk} Item{index} Corp" for index in range(2_000)]
    extractor = OfflineEntityExtractor()

    started = time.perf_counter()
    extractor.extract(texts=texts)
    rate = len(texts) / (time.perf_counter() - started)

    assert rate > 300, f"{rate:.0f} chunks/s"
