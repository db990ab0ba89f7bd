"""Normalise extracted text so that every format reaches the chunker in the same shape."""

from __future__ import annotations

import re
import unicodedata

_LINE_BREAKS = re.compile("\r\n?|[\x0b\x0c\x85\u2028\u2029]")
# Invisible characters are how hidden instructions ride along in pasted text ("ASCII smuggling" with
# Unicode tag characters, bidi overrides that reorder what a reviewer sees). They carry no meaning for
# search, so they go. ZWJ/ZWNJ stay: emoji sequences and Indic/Persian scripts need them.
_INVISIBLE = re.compile("[\u00ad\u200b\u2060\ufeff\u202a-\u202e\u2066-\u2069\U000e0000-\U000e007f]")
_TERMINAL_ESCAPES = re.compile(r"\x1b\[[0-9;?]*[A-Za-z]")  # colours in uploaded logs
_CONTROL = re.compile("[\x00-\x08\x0e-\x1f\x7f-\x9f]")
_SPACE_RUNS = re.compile(r"[ \t\u00a0]+")
_BLANK_LINE_RUNS = re.compile(r"\n{3,}")


def clean_text(text: str) -> str:
    """NFC-normalised text with Unix line breaks and no control or invisible formatting characters."""
    text = unicodedata.normalize("NFC", text)
    text = _LINE_BREAKS.sub("\n", text)
    text = _INVISIBLE.sub("", text)
    return _CONTROL.sub("", _TERMINAL_ESCAPES.sub("", text))


def single_line(text: str) -> str:
    return " ".join(text.split())


def tidy_prose(text: str) -> str:
    """Collapse space runs within lines and blank-line runs, keeping the line structure."""
    lines = (_SPACE_RUNS.sub(" ", line).strip() for line in text.split("\n"))
    return _BLANK_LINE_RUNS.sub("\n\n", "\n".join(lines)).strip()


def tidy_code(text: str) -> str:
    """Keep indentation (it is meaning in code); drop trailing spaces and surrounding blank lines."""
    return "\n".join(line.rstrip() for line in text.split("\n")).strip("\n")
