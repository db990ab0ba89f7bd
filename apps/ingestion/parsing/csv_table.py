"""CSV as readable lines: every row reads "column: value; column: value", in blocks of rows.

The first row is taken as the header. csv.Sniffer.has_header votes only on columns whose type
differs between header and data, so it calls most all-text tables headerless; a header row is
far more common in the files people upload.
"""

from __future__ import annotations

import csv
import io
from itertools import islice, zip_longest

from .errors import failures_read_as_corrupt
from .limits import ParseLimits
from .model import Block, MediaType, ParsedDocument, document_build

ROWS_PER_BLOCK = 20
MAX_CELL_CHARS = 1000
SNIFF_SAMPLE_CHARS = 16 * 1024


def parse_csv(*, text: str, limits: ParseLimits) -> ParsedDocument:
    dialect = _dialect(text)
    with failures_read_as_corrupt(reason="The CSV file is malformed and could not be read."):
        rows = (row for row in csv.reader(io.StringIO(text), dialect) if any(cell.strip() for cell in row))
        header = _column_names(next(rows, []))
        records = list(islice(rows, limits.max_table_rows + 1))
    truncated = len(records) > limits.max_table_rows
    records = records[: limits.max_table_rows]
    lines = [line for record in records if (line := _row_line(header, record))]
    blocks = [
        Block(kind="table", text="\n".join(lines[start : start + ROWS_PER_BLOCK]))
        for start in range(0, len(lines), ROWS_PER_BLOCK)
    ]
    metadata = {"columns": header, "row_count": len(records), "delimiter": dialect.delimiter, "truncated": truncated}
    return document_build(media_type=MediaType.CSV, blocks=blocks, metadata=metadata)


def _dialect(text: str) -> type[csv.Dialect] | csv.Dialect:
    try:
        return csv.Sniffer().sniff(text[:SNIFF_SAMPLE_CHARS], delimiters=",;\t")
    except csv.Error:
        return csv.excel


def _column_names(row: list[str]) -> list[str]:
    return [_cell(name) or f"column {number}" for number, name in enumerate(row, start=1)]


def _row_line(header: list[str], row: list[str]) -> str:
    pairs = []
    for number, (name, value) in enumerate(zip_longest(header, row, fillvalue=""), start=1):
        if cell := _cell(value):
            pairs.append(f"{name or f'column {number}'}: {cell}")
    return "; ".join(pairs)


def _cell(value: str) -> str:
    value = " ".join(value.split())
    return value if len(value) <= MAX_CELL_CHARS else value[:MAX_CELL_CHARS] + "…"
