"""JSON (and JSON Lines) as flattened "path.to.key: value" lines, one group per top-level entry."""

from __future__ import annotations

import json
from collections.abc import Iterator
from itertools import groupby, islice
from operator import itemgetter
from typing import Any

from .cleaning import single_line
from .errors import CorruptDocument, UnsafeDocument
from .limits import ParseLimits
from .model import Block, MediaType, ParsedDocument, document_build
from .sniffing import looks_like_json_lines

LINES_PER_BLOCK = 40
MAX_VALUE_CHARS = 1000


def parse_json(*, text: str, limits: ParseLimits) -> ParsedDocument:
    roots, json_lines = _load(text)
    entries = enumerate(_top_level_entries(roots, json_lines))
    leaves = ((index, line) for index, (path, value) in entries for line in _flattened(path, value))
    kept = list(islice(leaves, limits.max_json_values + 1))
    truncated = len(kept) > limits.max_json_values
    kept = kept[: limits.max_json_values]
    blocks = [block for _, group in groupby(kept, key=itemgetter(0)) for block in _line_blocks([g[1] for g in group])]
    metadata = {"json_lines": json_lines, "value_count": len(kept), "truncated": truncated}
    return document_build(media_type=MediaType.JSON, blocks=blocks, metadata=metadata)


def _line_blocks(lines: list[str]) -> list[Block]:
    return [
        Block(kind="list", text="\n".join(lines[start : start + LINES_PER_BLOCK]))
        for start in range(0, len(lines), LINES_PER_BLOCK)
    ]


def _load(text: str) -> tuple[list[Any], bool]:
    try:
        return [json.loads(text)], False
    except RecursionError:
        raise UnsafeDocument("The JSON document is nested too deeply to read safely.") from None
    except ValueError:
        if not looks_like_json_lines(text):
            raise CorruptDocument("The JSON document is malformed.") from None
    try:
        return [json.loads(line) for line in text.splitlines() if line.strip()], True
    except RecursionError:
        raise UnsafeDocument("The JSON document is nested too deeply to read safely.") from None
    except ValueError:
        raise CorruptDocument("A line of the JSON Lines document is malformed.") from None


def _top_level_entries(roots: list[Any], json_lines: bool) -> Iterator[tuple[str, Any]]:
    if json_lines:
        yield from ((f"[{index}]", value) for index, value in enumerate(roots))
        return
    root = roots[0]
    if isinstance(root, dict):
        yield from ((str(key), value) for key, value in root.items())
    elif isinstance(root, list):
        yield from ((f"[{index}]", value) for index, value in enumerate(root))


def _flattened(path: str, value: Any) -> Iterator[str]:
    """Leaf lines in document order; iterative, because a deep tree must not exhaust the stack."""
    stack = [(path, value)]
    while stack:
        path, node = stack.pop()
        if isinstance(node, dict) and node:
            stack.extend(reversed([(f"{path}.{key}", child) for key, child in node.items()]))
        elif isinstance(node, list) and node:
            stack.extend(reversed([(f"{path}[{index}]", child) for index, child in enumerate(node)]))
        else:
            yield f"{path}: {_rendered(node)}"


def _rendered(value: Any) -> str:
    text = single_line(value) if isinstance(value, str) else json.dumps(value)
    return text if len(text) <= MAX_VALUE_CHARS else text[:MAX_VALUE_CHARS] + "…"
