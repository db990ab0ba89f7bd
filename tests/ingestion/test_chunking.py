"""chunk_document: sections, token limits with any counter, overlap, sentence splits, offsets."""

from __future__ import annotations

import itertools
import random
import re

import pytest
from tokenizers import Tokenizer
from tokenizers.models import WordLevel
from tokenizers.pre_tokenizers import BertPreTokenizer
from tokenizers.processors import TemplateProcessing

from apps.ingestion.chunking import ChunkDraft, approximate_token_count, chunk_document
from apps.ingestion.parsing import Block, MediaType, ParsedDocument


def document_of(*blocks: Block) -> ParsedDocument:
    return ParsedDocument(media_type=MediaType.MARKDOWN, title=None, blocks=list(blocks))


def heading(text: str, level: int = 1) -> Block:
    return Block(kind="heading", text=text, level=level)


def paragraph(text: str) -> Block:
    return Block(kind="paragraph", text=text)


def sentences(count: int, *, topic: str = "leave") -> str:
    return " ".join(f"Rule {number} says {topic} requests need a manager's approval first." for number in range(count))


def word_count(text: str) -> int:
    return len(text.split())


def bert_like_counter() -> Tokenizer:
    """A real `tokenizers` pipeline that, like the embedder's, adds [CLS] and [SEP] to every call."""
    tokenizer = Tokenizer(WordLevel({"[UNK]": 0, "[CLS]": 1, "[SEP]": 2}, unk_token="[UNK]"))
    tokenizer.pre_tokenizer = BertPreTokenizer()
    tokenizer.post_processor = TemplateProcessing(single="[CLS] $A [SEP]", special_tokens=[("[CLS]", 1), ("[SEP]", 2)])
    return tokenizer


def assert_well_formed(document: ParsedDocument, chunks: list[ChunkDraft], *, max_tokens: int, count=None) -> None:
    count = count or approximate_token_count
    text = document.text
    assert [chunk.ordinal for chunk in chunks] == list(range(len(chunks)))
    for chunk in chunks:
        assert chunk.body.strip()
        assert text[chunk.char_start : chunk.char_end] == chunk.body
        assert chunk.text.endswith(chunk.body)
        assert chunk.token_count == count(chunk.text) <= max_tokens


def assert_covers_all_content(document: ParsedDocument, chunks: list[ChunkDraft]) -> None:
    """Every non-space character of every non-heading block lies inside some chunk."""
    covered: set[int] = set()
    for chunk in chunks:
        covered.update(range(chunk.char_start, chunk.char_end))
    for block, (start, end) in zip(document.blocks, document.block_spans, strict=True):
        if block.kind != "heading":
            missing = [i for i in range(start, end) if not document.text[i].isspace() and i not in covered]
            assert not missing, f"uncovered text: {document.text[missing[0] : missing[0] + 40]!r}"


def test_small_paragraphs_of_a_section_are_packed_and_carry_the_heading_path():
    document = document_of(
        heading("Handbook"),
        heading("Leave", 2),
        paragraph("Annual leave is 25 days."),
        paragraph("Carry over up to 5 days."),
        heading("Sick leave", 3),
        paragraph("Report by 9am."),
        heading("Expenses", 2),
        paragraph("Claims within 30 days."),
    )

    chunks = chunk_document(document=document, max_tokens=100, overlap_tokens=10)

    assert [(chunk.heading_path, chunk.body) for chunk in chunks] == [
        (["Handbook", "Leave"], "Annual leave is 25 days.\n\nCarry over up to 5 days."),
        (["Handbook", "Leave", "Sick leave"], "Report by 9am."),
        (["Handbook", "Expenses"], "Claims within 30 days."),
    ]
    assert chunks[1].text == "Handbook > Leave > Sick leave\n\nReport by 9am."
    assert_well_formed(document, chunks, max_tokens=100)


def test_no_chunk_crosses_a_section_when_sections_are_small():
    document = document_of(*[block for n in range(6) for block in (heading(f"Topic {n}", 2), paragraph(f"Fact {n}."))])
    section_spans = [
        span for block, span in zip(document.blocks, document.block_spans, strict=True) if block.kind != "heading"
    ]

    chunks = chunk_document(document=document, max_tokens=256, overlap_tokens=32)

    assert [(chunk.char_start, chunk.char_end) for chunk in chunks] == section_spans
    assert [chunk.heading_path for chunk in chunks] == [[f"Topic {n}"] for n in range(6)]


def test_a_long_paragraph_splits_at_sentence_ends():
    document = document_of(heading("Leave"), paragraph(sentences(40)))

    chunks = chunk_document(document=document, max_tokens=60, overlap_tokens=0)

    assert len(chunks) > 3
    for chunk in chunks:
        assert re.fullmatch(r"Rule \d+ .*approval first\.", chunk.body, re.DOTALL)
    assert_well_formed(document, chunks, max_tokens=60)
    assert_covers_all_content(document, chunks)


def test_a_sentence_too_long_for_a_chunk_splits_between_words():
    words = [f"word{number}" for number in range(300)]
    document = document_of(paragraph(" ".join(words)))

    chunks = chunk_document(document=document, max_tokens=50, overlap_tokens=0)

    assert [word for chunk in chunks for word in chunk.body.split()] == words
    assert_well_formed(document, chunks, max_tokens=50)


def test_a_run_without_spaces_is_cut_as_a_last_resort():
    blob = "QUJD" * 2000  # base64-looking, no spaces at all
    document = document_of(paragraph(f"Attachment: {blob} end."))

    chunks = chunk_document(document=document, max_tokens=40, overlap_tokens=0)

    assert "".join(chunk.body for chunk in chunks).replace(" ", "") == f"Attachment:{blob}end."
    assert_well_formed(document, chunks, max_tokens=40)


def test_consecutive_chunks_of_a_section_overlap():
    document = document_of(heading("Leave"), paragraph(sentences(30)))

    chunks = chunk_document(document=document, max_tokens=80, overlap_tokens=12)

    assert len(chunks) > 2
    for previous, following in itertools.pairwise(chunks):
        assert previous.char_start < following.char_start < previous.char_end <= following.char_end
        shared = document.text[following.char_start : previous.char_end]
        assert 0 < approximate_token_count(shared) <= 12
    assert_well_formed(document, chunks, max_tokens=80)


def test_no_overlap_across_sections_or_when_disabled():
    document = document_of(
        heading("A"), paragraph(sentences(20)), heading("B"), paragraph(sentences(20, topic="travel"))
    )

    overlapping = chunk_document(document=document, max_tokens=60, overlap_tokens=10)
    disjoint = chunk_document(document=document, max_tokens=60, overlap_tokens=0)

    first_of_b = next(chunk for chunk in overlapping if chunk.heading_path == ["B"])
    assert first_of_b.char_start == document.block_spans[3][0]  # B's own first sentence, nothing of A
    for previous, following in itertools.pairwise(disjoint):
        assert previous.char_end <= following.char_start


def test_a_custom_counter_is_respected():
    document = document_of(heading("Policy"), paragraph(sentences(50)), paragraph("Short tail."))

    chunks = chunk_document(document=document, max_tokens=40, overlap_tokens=5, count_tokens=word_count)

    assert_well_formed(document, chunks, max_tokens=40, count=word_count)
    assert_covers_all_content(document, chunks)


def test_a_counter_that_adds_special_tokens_still_packs_full_chunks():
    tokenizer = bert_like_counter()

    def count(text: str) -> int:
        return len(tokenizer.encode(text).ids)

    document = document_of(paragraph(" ".join(f"w{number}" for number in range(1000))))

    chunks = chunk_document(document=document, max_tokens=64, overlap_tokens=0, count_tokens=count)

    assert_well_formed(document, chunks, max_tokens=64, count=count)
    assert all(chunk.token_count >= 60 for chunk in chunks[:-1])  # [CLS]/[SEP] are paid once per chunk


def test_offsets_are_consistent_on_parsed_markdown_with_lists_tables_and_code():
    from apps.ingestion.parsing import parse_document

    source = "# Ops\n\n" + "\n".join(f"- step {n}: restart service {n} and check logs" for n in range(60))
    source += "\n\n```\n" + "\n".join(f"run --node {n}" for n in range(80)) + "\n```\n\n"
    source += "| host | role |\n| --- | --- |\n" + "\n".join(f"| h{n} | db |" for n in range(50))
    document = parse_document(data=source.encode(), filename="ops.md")

    chunks = chunk_document(document=document, max_tokens=50, overlap_tokens=8)

    assert_well_formed(document, chunks, max_tokens=50)
    assert_covers_all_content(document, chunks)
    assert all(line.startswith("- step") for chunk in chunks[:3] for line in chunk.body.splitlines()[1:])


@pytest.mark.parametrize("seed", range(8))
def test_random_documents_keep_every_invariant(seed):
    generator = random.Random(seed)
    vocabulary = ["policy", "travel", "approval", "e.g.", "the", "Q3", "internationalization", "2024-05-01", "£40"]
    blocks = []
    for _ in range(generator.randint(1, 12)):
        if generator.random() < 0.3:
            blocks.append(heading(f"Section {generator.randint(1, 99)}", generator.randint(1, 4)))
        words = [generator.choice(vocabulary) for _ in range(generator.randint(1, 400))]
        text = " ".join(word + ("." if generator.random() < 0.1 else "") for word in words)
        blocks.append(Block(kind=generator.choice(["paragraph", "list", "code"]), text=text))
    document = document_of(*blocks)
    max_tokens, overlap = generator.choice([(32, 4), (64, 16), (256, 32)])

    chunks = chunk_document(document=document, max_tokens=max_tokens, overlap_tokens=overlap)

    assert_well_formed(document, chunks, max_tokens=max_tokens)
    assert_covers_all_content(document, chunks)
    assert chunk_document(document=document, max_tokens=max_tokens, overlap_tokens=overlap) == chunks


def test_a_long_heading_path_is_shortened_to_keep_room_for_the_body():
    long_heading = " ".join(["Appendix"] * 40)
    document = document_of(heading("Root"), heading(long_heading, 2), paragraph("Body text."))

    [chunk] = chunk_document(document=document, max_tokens=64, overlap_tokens=0)

    assert chunk.heading_path == ["Root", long_heading]
    assert chunk.text == "Body text."  # neither the path nor the last heading fits in a quarter of 64
    deep = document_of(heading("Root"), heading("Leave", 2), paragraph("Body text."))
    assert chunk_document(document=deep, max_tokens=8, overlap_tokens=0)[0].text == "Leave\n\nBody text."


def test_a_document_of_headings_only_is_still_chunked():
    document = document_of(heading("Agenda"), heading("Budget", 2))

    chunks = chunk_document(document=document, max_tokens=32, overlap_tokens=0)

    assert [chunk.body for chunk in chunks] == ["Agenda\n\nBudget"]


def test_chunking_is_deterministic():
    document = document_of(heading("A"), paragraph(sentences(25)), heading("B", 2), paragraph(sentences(9)))

    runs = [chunk_document(document=document, max_tokens=48, overlap_tokens=8) for _ in range(3)]

    assert runs[0] == runs[1] == runs[2]


@pytest.mark.parametrize(("max_tokens", "overlap_tokens"), [(0, 0), (10, 10), (10, -1)])
def test_nonsensical_limits_are_refused(max_tokens, overlap_tokens):
    with pytest.raises(ValueError, match="overlap_tokens"):
        chunk_document(document=document_of(paragraph("x")), max_tokens=max_tokens, overlap_tokens=overlap_tokens)


@pytest.mark.parametrize(
    ("text", "expected"),
    [("", 0), ("Hello, world!", 4), ("internationalization", 3), ("2024", 2), ("東京都", 3), ("a_b", 3)],
)
def test_the_approximate_counter(text, expected):
    assert approximate_token_count(text) == expected


@pytest.mark.parametrize(("max_tokens", "overlap"), [(256, 32), (48, 8)])
def test_token_offsets_give_the_chunks_counting_every_piece_gives(max_tokens, overlap):
    from apps.integrations.embeddings.onnx_minilm import OnnxMiniLMEmbedder

    minilm = OnnxMiniLMEmbedder(threads=1)
    document = document_of(
        heading("Travel"),
        paragraph(sentences(40, topic="travel") + " Café naïve résumé, e.g. £40 per day (see §3.2)."),
        Block(kind="list", text="\n".join(f"- item {n}: book through the portal" for n in range(30))),
        paragraph("x" * 3000 + " then words again."),  # no spaces: cut inside a "word", counted for real
    )
    counted = chunk_document(
        document=document, max_tokens=max_tokens, overlap_tokens=overlap, count_tokens=minilm.count_tokens
    )

    indexed = chunk_document(
        document=document,
        max_tokens=max_tokens,
        overlap_tokens=overlap,
        count_tokens=minilm.count_tokens,
        token_spans=minilm.token_spans,
    )

    assert_well_formed(document, indexed, max_tokens=max_tokens, count=minilm.count_tokens)
    assert_covers_all_content(document, indexed)
    assert indexed == counted
