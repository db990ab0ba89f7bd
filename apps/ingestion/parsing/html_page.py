"""HTML: drop the page furniture and anything hidden, keep headings, paragraphs, lists, tables, code.

BeautifulSoup with lxml only parses the string it is given: no DTDs, images, stylesheets or
other external resources are ever fetched.
"""

from __future__ import annotations

import re
from collections.abc import Iterator

from bs4 import BeautifulSoup, NavigableString, Tag
from bs4.element import PreformattedString

from .cleaning import single_line
from .limits import ParseLimits
from .model import Block, MediaType, ParsedDocument, document_build

_FURNITURE_TAGS = [
    "script", "style", "noscript", "template", "iframe", "frame", "object", "embed", "svg", "canvas",
    "nav", "aside", "form", "button", "select", "dialog",
]  # fmt: skip
_FURNITURE_ROLES = {"navigation", "banner", "contentinfo", "search", "complementary"}
# Matched against the words of class and id names ("cookie-banner", "onetrust-consent-sdk", "CookieNotice").
_COOKIE_BANNER_WORD = re.compile(r"cookie\w*|\w*cookiebot\w*|consent\w*|gdpr|onetrust|osano")
_NEVER_REMOVED = {"html", "body", "main", "article"}  # sites put "cookie-consent-open" on <body>
_INVISIBLE_STYLE = re.compile(r"display\s*:\s*none|visibility\s*:\s*hidden", re.IGNORECASE)
_NAME_TOKENS = re.compile(r"[^a-z0-9]+")
_BLOCK_LEVEL_TAGS = [
    "address", "article", "blockquote", "dd", "details", "div", "dl", "dt", "figcaption", "figure", "h1", "h2",
    "h3", "h4", "h5", "h6", "hr", "li", "main", "ol", "p", "section", "summary", "table", "td", "th", "tr", "ul",
]  # fmt: skip
# Stands in for <br> while text is gathered, so that newlines in the source stay collapsible spaces.
_LINE_BREAK_MARK = "\u2028"
_HEADINGS = {"h1": 1, "h2": 2, "h3": 3, "h4": 4, "h5": 5, "h6": 6}
_INLINE_TAGS = {
    "a", "abbr", "b", "bdi", "bdo", "br", "cite", "code", "data", "del", "dfn", "em", "font", "i", "ins", "kbd",
    "label", "mark", "q", "s", "samp", "small", "span", "strong", "sub", "sup", "time", "u", "var", "wbr",
}  # fmt: skip


def parse_html(*, text: str, limits: ParseLimits) -> ParsedDocument:
    soup = BeautifulSoup(text, "lxml")
    title = _title_text(soup)
    _remove_furniture(soup)
    _mark_text_boundaries(soup)
    blocks = _BlockCollector().collect(soup.body or soup)
    if title is None:
        title = next((block.text for block in blocks if block.kind == "heading" and block.level == 1), None)
    root = soup.find("html")
    language = root.get("lang") if isinstance(root, Tag) else None
    metadata = {"language": language} if isinstance(language, str) else {}
    return document_build(media_type=MediaType.HTML, blocks=blocks, title=title, metadata=metadata)


def _title_text(soup: BeautifulSoup) -> str | None:
    title = soup.find("title")
    if not isinstance(title, Tag):
        return None
    return single_line(title.get_text()) or None


def _remove_furniture(soup: BeautifulSoup) -> None:
    for tag in list(_furniture(soup)):
        if not tag.decomposed:
            tag.decompose()


def _furniture(soup: BeautifulSoup) -> Iterator[Tag]:
    yield from soup.find_all(_FURNITURE_TAGS)
    for tag in soup.find_all(["header", "footer"]):
        if tag.find_parent(["article", "main"]) is None:  # an article's own header holds its title
            yield tag
    for tag in soup.find_all(True):
        if tag.name not in _NEVER_REMOVED and (_is_hidden(tag) or _is_marked_furniture(tag)):
            yield tag


def _is_hidden(tag: Tag) -> bool:
    """Hidden text is invisible to the people who vet a page but not to a language model."""
    style = tag.get("style")
    return (
        tag.has_attr("hidden")
        or str(tag.get("aria-hidden", "")).lower() == "true"
        or (isinstance(style, str) and bool(_INVISIBLE_STYLE.search(style)))
    )


def _is_marked_furniture(tag: Tag) -> bool:
    if str(tag.get("role", "")).lower() in _FURNITURE_ROLES:
        return True
    names = [name for name in tag.get_attribute_list("class") + tag.get_attribute_list("id") if isinstance(name, str)]
    return any(_COOKIE_BANNER_WORD.fullmatch(word) for word in _NAME_TOKENS.split(" ".join(names).lower()))


def _mark_text_boundaries(soup: BeautifulSoup) -> None:
    """get_text() glues adjacent elements ("<li>a<ul><li>b" gives "ab"); space block elements apart.

    Text goes inside the elements: bs4's insert_before/replace_with look the element up among its
    siblings, which turns quadratic on a page with thousands of them.
    """
    for line_break in soup.find_all("br"):
        line_break.append(_LINE_BREAK_MARK)
    for tag in soup.find_all(_BLOCK_LEVEL_TAGS):
        tag.insert(0, " ")
        tag.append(" ")


class _BlockCollector:
    """Walks the tree iteratively (deeply nested markup must not exhaust the stack).

    Block elements become blocks; loose text and inline elements between them gather into a
    paragraph, so text sitting directly in a <div> is not lost.
    """

    def __init__(self) -> None:
        self.blocks: list[Block] = []
        self.inline_text: list[str] = []

    def collect(self, root: Tag | BeautifulSoup) -> list[Block]:
        stack = [iter(root.children)]
        while stack:
            child = next(stack[-1], None)
            if child is None:
                stack.pop()
                self._flush_paragraph()
            elif isinstance(child, NavigableString):
                if not isinstance(child, PreformattedString):  # comments, CDATA, doctype, PIs
                    self.inline_text.append(str(child))
            elif isinstance(child, Tag) and not self._take_element(child):
                self._flush_paragraph()
                stack.append(iter(child.children))
        return self.blocks

    def _take_element(self, tag: Tag) -> bool:
        """Consume a leaf-like element whole; False means: descend into it as a container."""
        if tag.name in _INLINE_TAGS:
            self.inline_text.append(tag.get_text())
        elif tag.name in {"hr", "img"}:
            self.inline_text.append(" ")
        else:
            block = _element_block(tag)
            if block is None:
                return False
            self._flush_paragraph()
            self.blocks.append(block)
        return True

    def _flush_paragraph(self) -> None:
        text = single_line("".join(self.inline_text))
        if text:
            self.blocks.append(Block(kind="paragraph", text=text))
        self.inline_text.clear()


def _element_block(tag: Tag) -> Block | None:
    name = tag.name
    if name in _HEADINGS:
        return Block(kind="heading", text=single_line(tag.get_text()), level=_HEADINGS[name])
    if name == "p":
        lines = tag.get_text().split(_LINE_BREAK_MARK)
        return Block(kind="paragraph", text="\n".join(single_line(line) for line in lines))
    if name == "pre":
        return Block(kind="code", text=tag.get_text())
    if name == "table":
        return Block(kind="table", text=_table_text(tag))
    if name in {"ul", "ol", "dl"}:
        return Block(kind="list", text=_list_text(tag))
    return None


def _table_text(table: Tag) -> str:
    rows = []
    for row in table.find_all("tr"):
        cells = [single_line(cell.get_text()) for cell in row.find_all(["th", "td"], recursive=False)]
        if any(cells):
            rows.append(" | ".join(cells))
    return "\n".join(rows)


def _list_text(listing: Tag) -> str:
    items = listing.find_all(["li", "dt", "dd"], recursive=False)
    if not items:
        return single_line(listing.get_text())
    return "\n".join(f"- {single_line(item.get_text())}" for item in items)
