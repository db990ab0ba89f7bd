"""Structured records (CSV rows, JSON objects) as readable sentences.

Ingestion writes a CSV row as "office: Headquarters; city: Berlin; ..." and a JSON document as
one "path.to.key: value" line per leaf. Quoted as they are, answers read like field dumps
("common_requests[0].how: Open a ticket ..."). Here a block of such lines becomes one sentence per
record, naming its fields in words: "Office: Headquarters; city: Berlin; reception phone: ...", and
"Common requests — request: New software; how: Open a ticket in the service portal." (an object's
named keys each make a sentence: "Service desk — email: it-help@example.com."). The words
and numbers are the record's own, so the verifier checks a quoted record like any sentence.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from itertools import groupby

# "reception_phone: +49 30 ..." within a CSV row; a row holds two or more.
ROW_FIELD = re.compile(r"^\s*([^:;]{1,80}):\s+(.*?)\s*$")
# "common_requests[0].how: Open a ticket": a JSON path (no spaces) and its value.
JSON_LEAF = re.compile(r"^([\w\-]+(?:\[\d+\]|\.[\w\-]+)*):\s?(.*)$")
INDEX = re.compile(r"\[\d+\]")
END_PUNCTUATION = ".!?;:,"


def records_render(lines: Sequence[str]) -> list[str] | None:
    """One readable sentence per record, or None when the lines are not a block of records."""
    lines = [line.strip() for line in lines if line.strip()]
    if not lines:
        return None
    rows = [_row_fields(line) for line in lines]
    if all(fields is not None and len(fields) >= 2 for fields in rows):
        return [_sentence(None, fields) for fields in rows if fields]
    leaves = [JSON_LEAF.match(line) for line in lines]
    if len(lines) >= 2 and all(leaves) and any(_is_path(match.group(1)) for match in leaves if match):
        pairs = [(match.group(1), match.group(2)) for match in leaves if match]
        return [sentence for parent, group in _records(pairs) for sentence in _object_sentences(parent, group)]
    return None


def _object_sentences(parent: str, leaves: list[tuple[str, str]]) -> list[str]:
    """An array element is one record ("Common requests — request: ...; how: ..."); the named keys
    of an object are facts of their own ("Service desk — email: ...", "Service desk — phone: ...")."""
    label = _label(parent)
    fields = [(_field(path), value) for path, value in leaves]
    if parent.endswith("]") or label is None:
        return [_sentence(label, fields)]
    return [_sentence(label, [field]) for field in fields]


def _row_fields(line: str) -> list[tuple[str, str]] | None:
    fields = []
    for part in line.split("; "):
        match = ROW_FIELD.match(part)
        if not match:
            return None
        fields.append((_words(match.group(1)), match.group(2)))
    return fields


def _records(pairs: list[tuple[str, str]]):
    """Consecutive leaves of one object form a record: "a[0].x" and "a[0].y" share the parent "a[0]"."""
    return ((parent, list(group)) for parent, group in groupby(pairs, key=lambda pair: _parent(pair[0])))


def _is_path(path: str) -> bool:
    return any(mark in path for mark in ".[_")


def _parent(path: str) -> str:
    return path.rsplit(".", 1)[0] if "." in path else ""


def _field(path: str) -> str:
    return _words(INDEX.sub("", path.rsplit(".", 1)[-1]))


def _label(parent: str) -> str | None:
    """ "common_requests[0]" -> "Common requests"; the top level has no label."""
    words = _words(INDEX.sub("", parent).replace(".", " "))
    return words[:1].upper() + words[1:] if words else None


def _words(key: str) -> str:
    return " ".join(re.sub(r"[_\-]+", " ", key).split())


def _sentence(label: str | None, fields: list[tuple[str, str]]) -> str:
    body = "; ".join(f"{name}: {value.rstrip(END_PUNCTUATION)}" for name, value in fields if value)
    text = f"{label} — {body}" if label else body
    return text[:1].upper() + text[1:] + "."
