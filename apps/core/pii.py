"""Redact personal data from text: e-mail addresses, phone numbers, card numbers, IBANs, national ids.

Each kind has a finder; a candidate is replaced only when it validates, so order numbers, dates and
invoice ids survive: card numbers must pass the Luhn check, IBANs the mod-97 check (python-stdnum),
US SSNs the SSA's allocation rules, German tax ids (Steuer-ID) their check digit; phone numbers are
found and validated by libphonenumber (`phonenumbers`) for international numbers and for the local
formats of settings.PII_PHONE_REGIONS. Matches become placeholders such as `[EMAIL]`.

This is the one place personal data is recognised: log lines (apps.core.observability), stored
questions and answers and feedback comments all go through it. Which kinds apply to a tenant's
content is the tenant's choice (TenantSettings.pii_kinds, applied by apps.answers.safety.pii).
"""

from __future__ import annotations

import re
import unicodedata
from collections import Counter
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field

import phonenumbers
from django.conf import settings
from django.core.exceptions import ImproperlyConfigured
from stdnum import iban, luhn
from stdnum.de import idnr
from stdnum.us import ssn

# The kinds of personal data recognised here; a tenant picks a subset (TenantSettings.pii_kinds).
PII_KINDS = ("email", "phone", "card", "iban", "national_id")
PLACEHOLDERS = {kind: f"[{kind.upper()}]" for kind in PII_KINDS}


@dataclass(frozen=True)
class RedactionResult:
    text: str
    counts: dict[str, int] = field(default_factory=dict)  # kind -> replacements, only kinds found


@dataclass(frozen=True)
class Span:
    start: int
    end: int
    kind: str


_EMAIL = re.compile(r"(?<![\w.%+-])[\w.%+-]+@(?:[^\W_](?:[\w-]*[^\W_])?\.)+[^\W\d_]{2,}\b")
# 13-19 digits, optionally grouped by single spaces or dashes, standing alone: a digit run inside a
# hex trace id or a token ("e642491144494684f") is not a card number even when it passes Luhn.
_CARD = re.compile(r"(?<![\w-])\d(?:[ -]?\d){12,18}(?!\w)")
# Country code, check digits, then 11-30 letters/digits, optionally in space-separated groups.
_IBAN = re.compile(r"\b[A-Z]{2}\d{2}(?: ?[A-Z0-9]){11,30}\b", re.IGNORECASE)
_SSN = re.compile(r"(?<![\d-])\d{3}[- ]\d{2}[- ]\d{4}(?![\d-])")
# UK National Insurance number: two prefix letters (some never issued), six digits, suffix A-D.
_NINO = re.compile(r"\b(?!BG|GB|NK|KN|TN|NT|ZZ)[A-CEGHJ-PR-TW-Z][A-CEGHJ-NPR-TW-Z] ?\d{2} ?\d{2} ?\d{2} ?[A-D]\b")
_STEUER_ID = re.compile(r"(?<![\d-])[1-9]\d(?: ?\d{3}){3}(?![\d-])|(?<![\d-])[1-9]\d{10}(?![\d-])")


def _digits(text: str) -> str:
    return re.sub(r"\D", "", text)


def _emails(text: str) -> Iterator[Span]:
    for match in _EMAIL.finditer(text):
        yield Span(match.start(), match.end(), "email")


# How card numbers are printed when grouped: 4-4-4-4 (most), 4-4-4-4-3 (19 digits), 4-6-5 (Amex),
# 4-6-4 (Diners). Other groupings are something else, such as the tail of a mistyped IBAN.
_CARD_GROUPINGS = {(4, 4, 4, 4), (4, 4, 4, 4, 3), (4, 6, 5), (4, 6, 4)}


def _printed_like_a_card(candidate: str) -> bool:
    groups = tuple(len(group) for group in re.split(r"[ -]", candidate))
    return len(groups) == 1 or groups in _CARD_GROUPINGS


# The card networks' number ranges and lengths (Visa; Mastercard; Amex; Diners; Discover and
# UnionPay): a number outside them is no card, whatever Luhn says. Timestamps in milliseconds or
# microseconds, which pass Luhn as often as anything, mostly fall outside.
_CARD_RANGES: tuple[tuple[int, int, frozenset[int]], ...] = (
    (4, 4, frozenset({13, 16, 19})),
    (2221, 2720, frozenset({16})),
    (51, 55, frozenset({16})),
    (34, 34, frozenset({15})),
    (37, 37, frozenset({15})),
    (300, 305, frozenset({14, 16})),
    (36, 36, frozenset({14, 16})),
    (38, 39, frozenset({14, 16})),
    (6011, 6011, frozenset(range(16, 20))),
    (644, 649, frozenset(range(16, 20))),
    (65, 65, frozenset(range(16, 20))),
    (62, 62, frozenset(range(16, 20))),
)


def _issued_like_a_card(digits: str) -> bool:
    return any(
        low <= int(digits[: len(str(low))]) <= high and len(digits) in lengths for low, high, lengths in _CARD_RANGES
    )


def _cards(text: str) -> Iterator[Span]:
    for match in _CARD.finditer(text):
        digits = _digits(match.group())
        if not (_printed_like_a_card(match.group()) and 13 <= len(digits) <= 19 and _issued_like_a_card(digits)):
            continue
        if luhn.is_valid(digits) and len(set(digits)) > 1:
            yield Span(match.start(), match.end(), "card")


def _ibans(text: str) -> Iterator[Span]:
    """The longest valid IBAN at each candidate: a match may run on into the next word ("... 00 is")."""
    for match in _IBAN.finditer(text):
        candidate = match.group()
        for cut in range(len(candidate), 14, -1):
            if candidate[cut - 1] != " " and iban.is_valid(candidate[:cut]):
                yield Span(match.start(), match.start() + cut, "iban")
                break


def _national_ids(text: str) -> Iterator[Span]:
    for match in _SSN.finditer(text):
        if ssn.is_valid(_digits(match.group())):
            yield Span(match.start(), match.end(), "national_id")
    for match in _NINO.finditer(text):
        yield Span(match.start(), match.end(), "national_id")
    for match in _STEUER_ID.finditer(text):
        if idnr.is_valid(_digits(match.group())):
            yield Span(match.start(), match.end(), "national_id")


def _phone_regions() -> list[str]:
    try:
        return list(settings.PII_PHONE_REGIONS)
    except ImproperlyConfigured:  # logging before Django is set up: international numbers still match
        return ["US"]


# A phone number as people write one: international (+), with the trunk prefix (0), or grouped. A
# bare run of digits ("18388265602") is far more often an id or a count than a phone number.
_WRITTEN_LIKE_A_PHONE = re.compile(r"^(?:\+|0|\(|\d+[\s./-]\(?\d)")


# libphonenumber does not see a number a letter is glued to ("+1 415 555 0188x"); it reads a copy
# with that letter blanked, and `_glued_into_a_token` then judges the number in the real text.
_LETTER_AFTER_A_DIGIT = re.compile(r"(?<=\d)[A-Za-z_]")
_A_LETTER = re.compile(r"[A-Za-z]")
# An extension written after the number ("x12", "ext. 12", "extension 12") is part of it.
_EXTENSION = re.compile(r"[\s,]*(?:ext(?:ension)?\.?|x)\s*\d{1,6}$", re.IGNORECASE)


def _phones(text: str) -> Iterator[Span]:
    matchable = _LETTER_AFTER_A_DIGIT.sub(" ", text)
    for region in _phone_regions():
        for match in phonenumbers.PhoneNumberMatcher(matchable, region, leniency=phonenumbers.Leniency.VALID):
            raw = match.raw_string  # may start with the separator before the number
            start = match.start + len(raw) - len(raw.lstrip())
            written = text[start : match.end]
            # A letter inside is an identifier's ("051b70b33f393000"), never a phone number's.
            if _WRITTEN_LIKE_A_PHONE.match(written) and not _A_LETTER.search(_EXTENSION.sub("", written)):
                yield Span(start, _with_alternates(text, match.end), "phone")


# "+1 415 555 0132/0133", "-0133", "|0133": the alternate ending belongs to the number (it left
# "0133" behind). Only without spaces: "0132, 42 people" is another number.
_ALTERNATE_ENDINGS = re.compile(r"(?:[/\\|\u2013-]\d{1,6})+(?!\w)")


def _with_alternates(text: str, end: int) -> int:
    alternates = _ALTERNATE_ENDINGS.match(text, end)
    return alternates.end() if alternates else end


# Earlier finders win where matches overlap: an IBAN or card number also looks like a phone number.
FINDERS: tuple[tuple[str, Callable[[str], Iterator[Span]]], ...] = (
    ("email", _emails),
    ("iban", _ibans),
    ("card", _cards),
    ("national_id", _national_ids),
    ("phone", _phones),
)


def _checked_kinds(kinds: Iterable[str]) -> set[str]:
    wanted = set(kinds)
    unknown = wanted - set(PII_KINDS)
    if unknown:
        raise ValueError(f"unknown PII kinds {sorted(unknown)}; choose from {list(PII_KINDS)}")
    return wanted


# Citation markers ("[1]", "[2][3]") right after a number made libphonenumber reject it, so "+1 415
# 555 0132 [1]." survived in stored answers: the finders read the text with markers blanked out
# (same length, so the spans still point into the original).
_CITATION_MARKERS = re.compile(r"(?:\s*\[\d{1,3}(?:\s*,\s*\d{1,3})*\])+")


def _markers_blanked(text: str) -> str:
    return _CITATION_MARKERS.sub(lambda match: " " * len(match.group()), text)


# Full-width forms (U+FF01-FF5E: a full-width "+1 415 ..." or e-mail address) read as their ASCII
# twins, the spaces typography puts between digit groups (no-break, narrow, thin, figure) as
# spaces, and other scripts' digits (Arabic-Indic, superscript, circled) as 0-9: one character for
# one, so spans still point into the original text.
_ASCII_TWINS = {code: code - 0xFEE0 for code in range(0xFF01, 0xFF5F)} | {
    code: ord(" ") for code in (0x00A0, 0x2007, 0x2009, 0x202F)
}


def _ascii_read(text: str) -> str:
    if text.isascii():
        return text
    translated = text.translate(_ASCII_TWINS)
    digits = "".join(_ascii_digit(char) for char in translated)
    # A combining mark on a digit ("0150\u0301") hid the number from libphonenumber: read it as a space.
    return "".join(
        " " if index and unicodedata.category(char) == "Mn" and digits[index - 1].isdigit() else char
        for index, char in enumerate(digits)
    )


def _ascii_digit(char: str) -> str:
    if char.isascii() or not char.isdigit():
        return char
    try:
        return str(unicodedata.digit(char))
    except ValueError:
        return char


# Numbers that are part of a longer token are not personal data: a UUID's groups, a hash's digits.
_GLUED_KINDS = {"card", "phone", "national_id"}
_ID_CHARACTER = re.compile(r"[A-Za-z0-9_]")


def _glued_into_a_token(text: str, span: Span) -> bool:
    """Whether the span continues a longer token: a letter, digit or underscore right beside it, a
    hyphen joining it to one ("02530058-fdd0-4c59-..." is a UUID, not a phone number), or a point or
    colon joining it to a digit (the fraction of "12:00:00.012345", not a phone number). A number
    written with its "+" starts there, whatever comes before it ("number+1 415 555 0132")."""
    before, after = text[max(0, span.start - 2) : span.start], text[span.end : span.end + 2]
    if text.startswith("+", span.start):
        return False  # written as a phone number on purpose; no identifier starts with "+"
    return bool(
        (before[-1:] and _ID_CHARACTER.match(before[-1]))
        or (after[:1] and _ID_CHARACTER.match(after[0]))
        or (len(before) == 2 and _joins(before[1], before[0]))
        or (len(after) == 2 and _joins(after[0], after[1]))
    )


def _joins(separator: str, neighbour: str) -> bool:
    return (separator == "-" and bool(_ID_CHARACTER.match(neighbour))) or (separator in ".:" and neighbour.isdigit())


def pii_spans(text: str, *, kinds: Iterable[str] = PII_KINDS) -> list[Span]:
    """Non-overlapping spans of personal data in `text`, in order."""
    wanted = _checked_kinds(kinds)
    readable = _ascii_read(_markers_blanked(text))
    taken: list[Span] = []
    for kind, finder in FINDERS:
        if kind not in wanted:
            continue
        for span in finder(readable):
            if kind in _GLUED_KINDS and _glued_into_a_token(readable, span):
                continue
            if all(span.end <= other.start or span.start >= other.end for other in taken):
                taken.append(span)
    return sorted(taken, key=lambda span: span.start)


def pii_redact(text: str, *, kinds: Iterable[str] = PII_KINDS) -> RedactionResult:
    """`text` with each piece of personal data of the given kinds replaced by its placeholder."""
    spans = pii_spans(text, kinds=kinds)
    if not spans:
        return RedactionResult(text=text, counts={})
    redacted = _spans_replaced(text, spans, lambda span, _value: PLACEHOLDERS[span.kind])
    return RedactionResult(text=redacted, counts=dict(Counter(span.kind for span in spans)))


def _spans_replaced(text: str, spans: list[Span], replacement: Callable[[Span, str], str]) -> str:
    parts: list[str] = []
    position = 0
    for span in spans:
        parts.append(text[position : span.start])
        parts.append(replacement(span, text[span.start : span.end]))
        position = span.end
    parts.append(text[position:])
    return "".join(parts)


_NUMBERED_PLACEHOLDER = re.compile(r"\[(?:" + "|".join(kind.upper() for kind in PII_KINDS) + r")_\d+\]")


def pii_placeholder_in(text: str) -> bool:
    """Whether `text` holds a masker's placeholder (a model may quote one back, e.g. as an entity)."""
    return _NUMBERED_PLACEHOLDER.search(text) is not None


class PiiMasker:
    """Numbered placeholders ("[PHONE_1]") in place of personal data, and the values put back.

    For text that leaves for an outside model and comes back: the same value gets the same
    placeholder in every text masked by one masker, so the model can still tell two numbers apart
    and its answer can name them; `restore` puts back only values this masker took out.
    """

    def __init__(self, kinds: Iterable[str] = PII_KINDS) -> None:
        self.kinds = tuple(_checked_kinds(kinds))
        self._placeholders: dict[tuple[str, str], str] = {}
        self._values: dict[str, str] = {}

    def mask(self, text: str) -> str:
        spans = pii_spans(text, kinds=self.kinds) if self.kinds else []
        return _spans_replaced(text, spans, self._placeholder) if spans else text

    def restore(self, text: str) -> str:
        if not self._values:
            return text
        return _NUMBERED_PLACEHOLDER.sub(lambda match: self._values.get(match.group(), match.group()), text)

    @property
    def masked(self) -> int:
        """How many distinct values were masked."""
        return len(self._values)

    def _placeholder(self, span: Span, value: str) -> str:
        key = (span.kind, value)
        if key not in self._placeholders:
            numbered = sum(1 for kind, _ in self._placeholders if kind == span.kind) + 1
            placeholder = f"[{span.kind.upper()}_{numbered}]"
            self._placeholders[key] = placeholder
            self._values[placeholder] = value
        return self._placeholders[key]
