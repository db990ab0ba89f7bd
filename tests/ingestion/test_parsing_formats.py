"""parse_document: every format, and the document model it returns."""

from __future__ import annotations

import dataclasses
import json

import pytest

from apps.ingestion.parsing import Block, MediaType
from tests.ingestion.documents_factory import docx_report, pdf_with_text

from .parsing_helpers import LIMITS, blocks_of, parse


def test_plain_text_becomes_paragraphs():
    document = parse(b"First paragraph,\nwrapped.\r\n\r\nSecond paragraph.\n\n\n\nThird.", "notes.txt")

    assert document.media_type == MediaType.PLAIN_TEXT
    assert document.title is None
    assert blocks_of(document) == [
        ("paragraph", 0, "First paragraph,\nwrapped."),
        ("paragraph", 0, "Second paragraph."),
        ("paragraph", 0, "Third."),
    ]
    assert document.metadata["encoding"] == "utf-8"


def test_markdown_keeps_headings_paragraphs_lists_code_and_tables():
    source = (
        "# Onboarding\n\nWelcome to the *team*.\n\n## Accounts\n\n- Laptop\n- Badge\n  with photo\n\n"
        "```bash\nssh-keygen -t ed25519\n\nssh-add\n```\n\n| System | Owner |\n| --- | --- |\n| VPN | IT |\n\n"
        "Payroll\n=======\n\n> Paid monthly.\n\n###### Deep heading ######\n"
    )
    document = parse(source.encode(), "onboarding.md")

    assert document.media_type == MediaType.MARKDOWN
    assert document.title == "Onboarding"
    assert blocks_of(document) == [
        ("heading", 1, "Onboarding"),
        ("paragraph", 0, "Welcome to the *team*."),
        ("heading", 2, "Accounts"),
        ("list", 0, "- Laptop\n- Badge\nwith photo"),
        ("code", 0, "ssh-keygen -t ed25519\n\nssh-add"),
        ("table", 0, "System | Owner\nVPN | IT"),
        ("heading", 1, "Payroll"),
        ("paragraph", 0, "Paid monthly."),
        ("heading", 6, "Deep heading"),
    ]


def test_markdown_front_matter_is_skipped_but_gives_the_title():
    source = b'---\ntitle: "Security Handbook"\nowner: ciso\n---\n\n## Passwords\n\nUse a manager.\n'

    document = parse(source, "handbook.md")

    assert document.title == "Security Handbook"
    assert blocks_of(document) == [("heading", 2, "Passwords"), ("paragraph", 0, "Use a manager.")]


PAGE = b"""<!DOCTYPE html>
<html lang="en"><head><title> Expense  Policy </title><style>p { color: red }</style>
<script>track("visit")</script></head>
<body>
  <header><a href="/">Intranet home</a></header>
  <nav><ul><li>Menu item</li></ul></nav>
  <div id="cookie-consent">We use cookies. Accept all?</div>
  <main>
    <article>
      <header><h1>Expenses</h1></header>
      <p>Submit claims <strong>within 30 days</strong>.<br>Late claims need approval.</p>
      <div>Loose text in a div.</div>
      <h2>Limits</h2>
      <ul><li>Meals: EUR 60</li><li>Hotel: EUR 150</li></ul>
      <table><tr><th>Item</th><th>Cap</th></tr><tr><td>Taxi</td><td>EUR 40</td></tr></table>
      <pre>code   stays
  indented</pre>
      <!-- a comment nobody sees -->
    </article>
    <aside>Related: holiday policy</aside>
    <form><label>Search</label><input name="q"></form>
  </main>
  <noscript>Enable JavaScript</noscript>
  <iframe src="https://ads.example.com/frame"></iframe>
  <footer>Copyright ACME</footer>
</body></html>"""


def test_html_keeps_headings_and_content_and_drops_page_furniture():
    document = parse(PAGE, "expenses.html")

    assert document.media_type == MediaType.HTML
    assert document.title == "Expense Policy"
    assert document.metadata["language"] == "en"
    assert blocks_of(document) == [
        ("heading", 1, "Expenses"),
        ("paragraph", 0, "Submit claims within 30 days.\nLate claims need approval."),
        ("paragraph", 0, "Loose text in a div."),
        ("heading", 2, "Limits"),
        ("list", 0, "- Meals: EUR 60\n- Hotel: EUR 150"),
        ("table", 0, "Item | Cap\nTaxi | EUR 40"),
        ("code", 0, "code   stays\n  indented"),
    ]
    for furniture in ("Intranet home", "Menu item", "cookies", "Related", "Search", "JavaScript", "Copyright"):
        assert furniture not in document.text
    assert "track" not in document.text
    assert "comment" not in document.text


def test_html_title_falls_back_to_the_first_h1():
    document = parse(b"<html><body><h1>Quarterly Review</h1><p>Numbers are up.</p></body></html>", "q.html")

    assert document.title == "Quarterly Review"


def test_html_text_of_adjacent_elements_is_spaced_and_cookie_notices_go():
    page = (
        b'<html><body><div class="CookieNotice">We value your privacy</div>'
        b"<ul><li>one<ul><li>two</li></ul></li></ul><div>a<br>b</div><p>x<br/>y</p></body></html>"
    )

    document = parse(page, "lists.html")

    assert blocks_of(document) == [("list", 0, "- one two"), ("paragraph", 0, "a b"), ("paragraph", 0, "x\ny")]


def test_html_never_fetches_external_resources(monkeypatch):
    def refuse(*args, **kwargs):
        raise AssertionError("network access attempted")

    monkeypatch.setattr("socket.socket.connect", refuse)
    monkeypatch.setattr("urllib.request.urlopen", refuse)
    page = (
        b'<!DOCTYPE html PUBLIC "-//W3C//DTD XHTML 1.0 Strict//EN" "http://www.w3.org/TR/xhtml1/DTD/xhtml1-strict.dtd">'
        b'<html><head><link rel="stylesheet" href="http://example.com/a.css"></head>'
        b'<body><img src="http://example.com/x.png"><p>Offline only.</p></body></html>'
    )

    assert parse(page, "x.html").text == "Offline only."


def test_pdf_text_is_extracted_per_page():
    data = pdf_with_text(pages=["Quarterly results.\nRevenue grew 12%.", "Outlook (2025): stable."], title="Q3 Report")

    document = parse(data, "q3.pdf")

    assert document.media_type == MediaType.PDF
    assert document.title == "Q3 Report"
    assert blocks_of(document) == [
        ("paragraph", 0, "Quarterly results.\nRevenue grew 12%."),
        ("paragraph", 0, "Outlook (2025): stable."),
    ]
    assert document.metadata["page_count"] == 2
    assert document.metadata["block_pages"] == [1, 2]


def test_docx_headings_come_from_styles_and_tables_are_kept():
    document = parse(docx_report(), "travel.docx")

    assert document.media_type == MediaType.DOCX
    assert document.title == "Travel Policy"
    assert blocks_of(document) == [
        ("heading", 1, "Travel Policy"),
        ("heading", 1, "Booking"),
        ("paragraph", 0, "Book flights through the travel portal at least two weeks ahead."),
        ("list", 0, "- Economy class on flights under six hours\n- Business class needs director approval"),
        ("heading", 2, "Allowances"),
        ("table", 0, "City | Daily allowance\nBerlin | EUR 60\nTokyo | JPY 9000"),
        ("paragraph", 0, "Receipts are required for every claim."),
    ]
    assert document.metadata["table_count"] == 1


def test_csv_rows_read_as_column_value_lines():
    data = b'name,role,office\nAda Lovelace,Engineer,"London, UK"\nGrace Hopper,Admiral,\n'

    document = parse(data, "people.csv")

    assert document.media_type == MediaType.CSV
    assert blocks_of(document) == [
        ("table", 0, "name: Ada Lovelace; role: Engineer; office: London, UK\nname: Grace Hopper; role: Admiral"),
    ]
    assert document.metadata["columns"] == ["name", "role", "office"]
    assert document.metadata["row_count"] == 2


def test_csv_rows_are_grouped_into_blocks_and_capped():
    rows = "\n".join(f"{number};item {number}" for number in range(100))
    limits = dataclasses.replace(LIMITS, max_table_rows=50)

    document = parse(f"id;label\n{rows}\n".encode(), "items.csv", limits=limits)

    assert document.metadata["delimiter"] == ";"
    assert document.metadata["row_count"] == 50
    assert document.metadata["truncated"] is True
    assert [len(block.text.splitlines()) for block in document.blocks] == [20, 20, 10]
    assert document.blocks[0].text.splitlines()[0] == "id: 0; label: item 0"


def test_json_is_flattened_to_path_value_lines():
    data = json.dumps(
        {"service": {"name": "billing", "ports": [80, 443]}, "owners": [{"team": "payments"}], "beta": True}
    )

    document = parse(data.encode(), "service.json")

    assert document.media_type == MediaType.JSON
    assert blocks_of(document) == [
        ("list", 0, "service.name: billing\nservice.ports[0]: 80\nservice.ports[1]: 443"),
        ("list", 0, "owners[0].team: payments"),
        ("list", 0, "beta: true"),
    ]


def test_json_lines_and_the_value_cap():
    data = b'{"id": 1, "msg": "started"}\n{"id": 2, "msg": "stopped"}\n'
    limits = dataclasses.replace(LIMITS, max_json_values=3)

    document = parse(data, "events.jsonl", limits=limits)

    assert document.metadata["json_lines"] is True
    assert document.text == "[0].id: 1\n[0].msg: started\n\n[1].id: 2"
    assert document.metadata["truncated"] is True


# --- The document model -------------------------------------------------------------------------


def test_block_spans_index_into_text():
    document = parse(PAGE, "page.html")

    spans = document.block_spans
    assert len(spans) == len(document.blocks)
    for block, (start, end) in zip(document.blocks, spans, strict=True):
        assert document.text[start:end] == block.text


def test_heading_levels_are_validated_and_documents_are_frozen():
    with pytest.raises(ValueError, match=r"1\.\.6"):
        Block(kind="heading", text="Too deep", level=7)
    document = parse(b"text", "a.txt")
    with pytest.raises(dataclasses.FrozenInstanceError):
        document.title = "changed"
