"""Text analysis for BM25: the same function turns chunks and questions into terms.

Lower-cased Unicode words, NFKC-normalised, English stop words removed, no stemming (the reference
numbers in the retrieval issue were measured without stemming). Terms are capped in length so a
hostile document cannot bloat the postings table.
"""

from __future__ import annotations

import re
import unicodedata
from collections import Counter

MAX_TERM_LENGTH = 40
WORD = re.compile(r"\w+", re.UNICODE)

STOP_WORDS = frozenset(
    """
    a about above after again against all am an and any are as at be because been before being
    below between both but by can could did do does doing down during each few for from further had
    has have having he her here hers herself him himself his how i if in into is it its itself just
    me more most my myself no nor not now of off on once only or other our ours ourselves out over
    own same she should so some such than that the their theirs them themselves then there these
    they this those through to too under until up very was we were what when where which while who
    whom why will with would you your yours yourself yourselves
    """.split()  # noqa: SIM905 - a word list reads better than 170 quoted strings
)


def analyze(text: str) -> list[str]:
    normalized = unicodedata.normalize("NFKC", text).casefold()
    return [
        word
        for word in WORD.findall(normalized)
        if word not in STOP_WORDS and len(word) <= MAX_TERM_LENGTH and not word.isspace() and word != "_"
    ]


def term_frequencies(text: str) -> dict[str, int]:
    return dict(Counter(analyze(text)))
