"""The canonical key an entity is merged on in the graph.

Documents and questions are linked through this key alone, so two spellings of one thing must
land on one key: "the Refund Policy", "refund policies" and "Refund policy's" all become
"refund policy". The rules are deliberately light (no dictionary, no stemmer): a wrong merge only
adds a candidate that PostgreSQL and the ranker judge later, while a missed merge loses a link.
"""

from __future__ import annotations

import re
import unicodedata

MAX_KEY_CHARS = 200

_LEADING_ARTICLES = frozenset({"the", "a", "an"})
_APOSTROPHES = str.maketrans({"\u2019": "'", "\u2018": "'", "\u02bc": "'", "`": "'", "\u00b4": "'"})
_POSSESSIVE = re.compile(r"(?<=[^\W_])'s\b|(?<=s)'(?=\W|$)", re.IGNORECASE)
# Dots inside abbreviations go ("U.S." and "US" are one key); dots elsewhere split words.
_ABBREVIATION_DOT = re.compile(r"(?<=\b[^\W\d_])\.(?=[^\W\d_]\b)")
_APOSTROPHE_INSIDE = re.compile(r"(?<=[^\W_])'(?=[^\W_])")
_NOT_WORD = re.compile(r"[\W_]+")

# Plural -> singular for the few irregular nouns common in business and encyclopedic text.
_IRREGULAR_SINGULARS = {
    "men": "man",
    "women": "woman",
    "children": "child",
    "mice": "mouse",
    "feet": "foot",
    "teeth": "tooth",
    "geese": "goose",
    "criteria": "criterion",
    "phenomena": "phenomenon",
    "indices": "index",
    "matrices": "matrix",
    "appendices": "appendix",
    "analyses": "analysis",
    "theses": "thesis",
    "crises": "crisis",
    "diagnoses": "diagnosis",
    "hypotheses": "hypothesis",
    "lives": "life",
    "wives": "wife",
    "knives": "knife",
    "leaves": "leaf",
    "halves": "half",
    "shelves": "shelf",
    "wolves": "wolf",
    "thieves": "thief",
}
# Singular already, or a plural whose "-ies" is really "-ie" + "s" ("movies" is not "movy").
_IES_TO_IE = frozenset(
    {"movies", "cookies", "calories", "zombies", "rookies", "brownies", "prairies", "selfies", "hippies", "goalies"}
)
_NOT_PLURAL = frozenset({"series", "species", "news", "means", "headquarters", "lens", "chassis", "aircraft"})
_UNCHANGED_ENDINGS = ("ss", "us", "is", "ics", "ous")


def singular(word: str) -> str:
    """Light English singularisation of one lower-case word; unknown shapes are left alone."""
    if len(word) <= 3 or not word.isalpha() or word in _NOT_PLURAL:
        return word
    irregular = _IRREGULAR_SINGULARS.get(word)
    if irregular:
        return irregular
    if word in _IES_TO_IE:
        return word[:-1]
    if word.endswith("ies") and len(word) > 4:
        return word[:-3] + "y"
    if word.endswith(("sses", "xes", "zzes", "shes")):
        return word[:-2]
    if word.endswith("ches"):
        # "beaches", "churches" drop "es"; "caches", "headaches", "niches" are "-che" + "s".
        stem = word[:-4]
        single_vowel_before = len(stem) >= 2 and stem[-1] in "aei" and stem[-2] not in "aeiou"
        return word[:-1] if single_vowel_before else word[:-2]
    if word.endswith("s") and not word.endswith(_UNCHANGED_ENDINGS):
        return word[:-1]
    return word


def strip_latin_accents(text: str) -> str:
    """Drop accents on Latin letters ("Aschenbrödel" meets "Aschenbrodel"); other scripts' marks carry meaning."""
    decomposed = unicodedata.normalize("NFKD", text)
    kept: list[str] = []
    for char in decomposed:
        if unicodedata.combining(char) and kept and kept[-1].isascii():
            continue
        kept.append(char)
    return unicodedata.normalize("NFC", "".join(kept))


def entity_key(text: str) -> str:
    """The canonical form: casefolded, punctuation and possessives gone, no leading article, last word singular.

    Returns "" when nothing entity-like is left (the caller drops such entities).
    """
    text = unicodedata.normalize("NFKC", text[: MAX_KEY_CHARS * 2]).translate(_APOSTROPHES)
    text = _POSSESSIVE.sub("", text)
    text = _ABBREVIATION_DOT.sub("", text)
    text = _APOSTROPHE_INSIDE.sub("", text)
    text = strip_latin_accents(text)
    words = [word for word in _NOT_WORD.split(text) if word]
    while words and words[0].casefold() in _LEADING_ARTICLES and len(words) > 1:
        words.pop(0)
    if not words:
        return ""
    last = words[-1]
    # Acronyms keep their final "S" ("AWS", "GPS"); "GPUs" still loses its lower-case plural "s".
    is_acronym = last.isupper() and len(last) > 1
    folded = [word.casefold() for word in words]
    if not is_acronym:
        folded[-1] = singular(folded[-1])
    return " ".join(folded)[:MAX_KEY_CHARS].strip()
