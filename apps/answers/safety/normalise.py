"""Undo the tricks that hide a phrase from a pattern: zero-width characters, look-alike letters from
other scripts, full-width and mathematical letters, leetspeak and letter spacing.

The safety rules match on these normalised forms; the text itself is never changed by them.
"""

# ruff: noqa: RUF001 - look-alike letters are this module's subject

from __future__ import annotations

import re
import unicodedata

# Format characters (Unicode category Cf: zero-width space/joiners, BOM, bidi controls, soft hyphen,
# tag characters) carry no visible text; NFKC keeps them, so they are dropped explicitly.
_INVISIBLE_CATEGORIES = {"Cf", "Mn"}

# Letters from Cyrillic and Greek that render like Latin ones (the Unicode confusables most used in
# spoofing). NFKC already folds full-width and mathematical alphanumerics to ASCII.
_HOMOGLYPHS = str.maketrans(
    {
        # Cyrillic
        "а": "a", "в": "b", "е": "e", "ё": "e", "к": "k", "м": "m", "н": "h", "о": "o", "р": "p",
        "с": "c", "т": "t", "у": "y", "х": "x", "ѕ": "s", "і": "i", "ї": "i", "ј": "j", "ԁ": "d",
        "һ": "h", "ӏ": "l", "ԛ": "q", "ԝ": "w", "ɡ": "g",
        # Greek
        "α": "a", "β": "b", "ε": "e", "η": "n", "ι": "i", "κ": "k", "ν": "v", "ο": "o", "ρ": "p",
        "τ": "t", "υ": "u", "χ": "x", "γ": "y", "ϲ": "c",
        # Latin look-alikes outside ASCII
        "ı": "i", "ȷ": "j", "ℓ": "l",
    }
)  # fmt: skip

_LEET = str.maketrans({"0": "o", "1": "i", "3": "e", "4": "a", "5": "s", "7": "t", "@": "a", "$": "s", "!": "i"})
_SPACES = re.compile(r"[^\S\n]+")
_BLANK_LINES = re.compile(r"\s*\n\s*")
_NOT_LETTERS = re.compile(r"[^a-zäöüß]+")


def _strip_invisible(text: str, *, keep_umlauts: bool) -> str:
    # Decompose first so accents become combining marks; umlauts (if kept) are recomposed below.
    decomposed = unicodedata.normalize("NFKD", text)
    kept = "".join(
        char
        for char in decomposed
        if unicodedata.category(char) not in _INVISIBLE_CATEGORIES or (keep_umlauts and char == "\u0308")
    )
    return unicodedata.normalize("NFC", kept)


def normalised(text: str, *, keep_umlauts: bool = True) -> str:
    """Case-folded, NFKC, invisible characters removed, look-alikes mapped to Latin, spaces collapsed
    (line breaks kept: some rules look at line starts).

    Accents are removed; umlauts only when `keep_umlauts` is false (German rules spell "ü", "ä", "ö",
    while a diaeresis stuck on an English word, "ignöre", should not hide it).
    """
    if text.isascii():  # the common case: nothing to fold but case and spacing
        text = text.lower()
    else:
        text = unicodedata.normalize("NFKC", text)
        text = _strip_invisible(text, keep_umlauts=keep_umlauts).casefold().translate(_HOMOGLYPHS)
    return _BLANK_LINES.sub("\n", _SPACES.sub(" ", text)).strip()


def deleet(text: str) -> str:
    """`normalised` text with digits and symbols read as the letters they imitate ("1gn0re" -> "ignore")."""
    return text.translate(_LEET)


def squeezed(text: str) -> str:
    """Letters only, so "i g n o r e" and "ig-no-re" read "ignore"."""
    return _NOT_LETTERS.sub("", deleet(text))


def was_obfuscated(text: str) -> bool:
    """True when the text hides letters: invisible characters, or look-alikes mixed into Latin words."""
    if any(unicodedata.category(char) == "Cf" for char in text):
        return True
    folded = unicodedata.normalize("NFKC", text).casefold()
    mapped = folded.translate(_HOMOGLYPHS)
    if mapped == folded:
        return False
    # A look-alike counts only inside a word that also has ASCII letters (Russian or Greek prose does not).
    return any(
        original != changed and any("a" <= char <= "z" for char in original)
        for original, changed in zip(folded.split(), mapped.split(), strict=False)
    )
