"""Stemming is safe to call from many threads at once (answers run on concurrent threads)."""

from __future__ import annotations

import sys
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor

import pytest
import snowballstemmer

from apps.answers.evidence import text

WORDS = [
    f"{stem}{suffix}"
    for stem in ("refund", "connect", "publish", "approv", "employ")
    for suffix in ("", "s", "ed", "ing", "ation", "ational", "ly", "ness", "ments", "ities")
]


@pytest.fixture
def frequent_thread_switches() -> Iterator[None]:
    """Switch threads every microsecond, so an unsafe shared stemmer is caught mid-word."""
    previous = sys.getswitchinterval()
    sys.setswitchinterval(1e-6)
    try:
        yield
    finally:
        sys.setswitchinterval(previous)


def test_concurrent_stemming_gives_the_single_threaded_stems(frequent_thread_switches):
    expected = {word: snowballstemmer.stemmer("english").stemWord(word) for word in WORDS}

    def stem_all(_round: int) -> dict[str, str]:
        # Past the memo: every call runs the stemmer itself.
        return {word: text.stem.__wrapped__(word) for word in WORDS * 20}

    with ThreadPoolExecutor(max_workers=8) as pool:
        results = list(pool.map(stem_all, range(32)))
    assert all(result == expected for result in results)
