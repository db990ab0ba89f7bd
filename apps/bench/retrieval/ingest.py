"""Ingest a BEIR dataset's corpus through the real pipeline, for the evaluation commands."""

from __future__ import annotations

import time

from tqdm import tqdm

from apps.bench.corpus import corpus_ingest

from .beir import BeirDataset


def dataset_corpus_ingest(dataset: BeirDataset) -> dict:
    """Ingest every corpus entry (idempotent) with a progress bar; the outcome counts and seconds taken."""
    entries = list(dataset.corpus())
    started = time.perf_counter()
    with tqdm(total=len(entries), unit="doc", desc="ingest", disable=None) as bar:
        outcomes = corpus_ingest(entries=entries, on_progress=bar.update)
    return {**dict(outcomes), "seconds": round(time.perf_counter() - started, 1)}
