"""Bytes to text without ever crashing on a bad byte, and refusing what is not text at all."""

from __future__ import annotations

import codecs
import re
from dataclasses import dataclass

import charset_normalizer

from .errors import UnsupportedDocument

_BOMS = (  # UTF-32 first: its little-endian BOM begins with UTF-16's.
    (codecs.BOM_UTF32_LE, "utf-32-le"),
    (codecs.BOM_UTF32_BE, "utf-32-be"),
    (codecs.BOM_UTF8, "utf-8"),
    (codecs.BOM_UTF16_LE, "utf-16-le"),
    (codecs.BOM_UTF16_BE, "utf-16-be"),
)
# Encodings that legacy office documents actually arrive in. Left to itself charset-normalizer also
# weighs DOS and Mac code pages, and on short Western text it then picks cp437 over windows-1252.
LEGACY_ENCODINGS = [
    "cp1252", "cp1250", "cp1251", "cp1253", "cp1254", "cp1255", "cp1256", "cp1257", "cp1258",
    "cp874", "latin_1", "iso8859_15", "koi8_r", "shift_jis", "euc_jp", "gb18030", "big5", "euc_kr",
]  # fmt: skip
_SUSPICIOUS = re.compile("[\x00-\x08\x0e-\x1a\x1c-\x1f\x7f\ufffd]")  # ESC (\x1b) colours text logs
MAX_SUSPICIOUS_RATIO = 0.05
BINARY_REASON = "The file looks like binary data, not text, and can't be indexed."


@dataclass(frozen=True)
class DecodedText:
    text: str
    encoding: str
    had_invalid_bytes: bool = False


def decode_text(*, data: bytes) -> DecodedText:
    """Decode by BOM, then strict UTF-8, then a guess; refuse the result if it reads as binary."""
    decoded = _decode_by_bom(data)
    if decoded is None:
        if b"\x00" in data:  # never in text without a UTF-16/32 BOM; always in executables and images
            raise UnsupportedDocument(BINARY_REASON)
        decoded = _decode_without_bom(data)
    _refuse_binary(decoded.text)
    return decoded


def _decode_by_bom(data: bytes) -> DecodedText | None:
    for bom, encoding in _BOMS:
        if data.startswith(bom):
            return _decode_leniently(data[len(bom) :], encoding)
    return None


def _decode_without_bom(data: bytes) -> DecodedText:
    try:
        return DecodedText(text=data.decode("utf-8"), encoding="utf-8")
    except UnicodeDecodeError:
        pass
    lenient = _decode_leniently(data, "utf-8")
    if _mostly_utf8(lenient.text):
        return lenient
    return _guess_legacy_encoding(data) or lenient


def _decode_leniently(data: bytes, encoding: str) -> DecodedText:
    try:
        return DecodedText(text=data.decode(encoding), encoding=encoding)
    except UnicodeDecodeError:
        return DecodedText(text=data.decode(encoding, errors="replace"), encoding=encoding, had_invalid_bytes=True)


def _mostly_utf8(text: str) -> bool:
    """UTF-8 with a few broken bytes, rather than a legacy encoding where every accent is invalid."""
    invalid = text.count("\ufffd")
    non_ascii = len(text) - len(text.encode("ascii", errors="ignore"))
    valid_multibyte = non_ascii - invalid
    return valid_multibyte > 0 and valid_multibyte >= invalid


def _guess_legacy_encoding(data: bytes) -> DecodedText | None:
    matches = charset_normalizer.from_bytes(data, cp_isolation=LEGACY_ENCODINGS)
    best = matches.best()
    if best is None:
        return None
    # Short Western text decodes identically in several code pages (cp1250 and cp1252 agree on most
    # accented letters), so ties are common; windows-1252 is by far the likeliest, as WHATWG assumes.
    for match in matches:
        tied = (match.chaos, match.coherence) == (best.chaos, best.coherence)
        if tied and "cp1252" in match.could_be_from_charset:
            return _decode_leniently(data, "cp1252")
    return DecodedText(text=str(best), encoding=best.encoding)


def _refuse_binary(text: str) -> None:
    suspicious = sum(1 for _ in _SUSPICIOUS.finditer(text))
    if text and suspicious / len(text) > MAX_SUSPICIOUS_RATIO:
        raise UnsupportedDocument(BINARY_REASON)
