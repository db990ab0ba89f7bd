"""Read a BEIR-layout dataset: corpus.jsonl, queries.jsonl, qrels/<split>.tsv."""

from __future__ import annotations

import csv
import json
from collections import defaultdict
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path


@dataclass(frozen=True)
class BeirQuery:
    id: str
    text: str
    answers: tuple[str, ...] = ()
    answerable: bool = True
    hops: int | None = None


@dataclass
class BeirDataset:
    root: Path
    queries: list[BeirQuery]
    qrels: dict[str, dict[str, int]] = field(default_factory=dict)

    def corpus(self) -> Iterator[dict]:
        """Corpus entries; an entry naming a `file` (relative to the dataset) gets its absolute path, so
        real files (HTML, CSV, JSON, ...) go through the same parsers as an upload."""
        with (self.root / "corpus.jsonl").open(encoding="utf-8") as handle:
            for line in handle:
                if line.strip():
                    entry = json.loads(line)
                    if entry.get("file"):
                        entry["file"] = str((self.root / entry["file"]).resolve())
                    yield entry


def available_splits(root: Path) -> list[str]:
    return sorted(path.stem for path in (root / "qrels").glob("*.tsv"))


def load_dataset(root: Path, *, split: str | None = None) -> BeirDataset:
    if not (root / "corpus.jsonl").exists() or not (root / "queries.jsonl").exists():
        raise FileNotFoundError(f"{root} is not a BEIR dataset (corpus.jsonl and queries.jsonl expected)")
    splits = available_splits(root)
    chosen = split or (splits[0] if len(splits) == 1 else "test")
    if chosen not in splits:
        raise FileNotFoundError(f"no qrels/{chosen}.tsv in {root}; available: {splits}")
    qrels: dict[str, dict[str, int]] = defaultdict(dict)
    with (root / "qrels" / f"{chosen}.tsv").open(encoding="utf-8") as handle:
        reader = csv.reader(handle, delimiter="\t")
        next(reader, None)  # header
        for row in reader:
            if len(row) >= 3:
                qrels[row[0]][row[1]] = int(row[2])
    queries = []
    with (root / "queries.jsonl").open(encoding="utf-8") as handle:
        for line in handle:
            if not line.strip():
                continue
            raw = json.loads(line)
            queries.append(
                BeirQuery(
                    id=str(raw["_id"]),
                    text=raw["text"],
                    answers=tuple(raw.get("answers") or ()),
                    answerable=bool(raw.get("answerable", True)),
                    hops=raw.get("hops"),
                )
            )
    return BeirDataset(root=root, queries=queries, qrels=dict(qrels))
