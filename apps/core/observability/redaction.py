"""Remove secrets, credentials, personal data and document text from anything about to be logged.

Patterns are deliberately broad: a log line that loses a harmless value is cheap, a leaked API key
is not. Text is redacted after %-formatting, so values hidden inside dict or list arguments and
exception messages are caught too; structured `extra` fields are walked recursively.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

REDACTED = "[REDACTED]"

# Key names whose values are secrets wherever they appear (key=value, "key": "value", headers).
# A key must END with one of these words: `password`, `NEO4J_PASSWORD`, `x-api-key` match, while
# `input_tokens` or `token_count` do not.
_SENSITIVE_KEYS = (
    r"[\w.-]*?(?:password|passwd|pwd|secret|api[_-]?key|apikey|access[_-]?key|private[_-]?key|token|"
    r"authorization|cookie|session[_-]?id|sessionid|credentials?|signature)"
)
SECRET_KEY_NAME = re.compile(rf"^{_SENSITIVE_KEYS}$", re.IGNORECASE)
# Keys whose values are document or prompt text: never logged whole.
CONTENT_KEY_NAME = re.compile(
    r"^(?:text|content|body|document_text|chunk_text|passages?|prompt|question|answer)$", re.IGNORECASE
)

_QUOTED = r"\"(?:[^\"\\]|\\.)*\"|'(?:[^'\\]|\\.)*'"
_KEY_VALUE = re.compile(
    rf"(?P<key>(?<![\w-]){_SENSITIVE_KEYS})(?P<sep>[\"']?\s*(?:=|:)\s*)"
    rf"(?P<value>{_QUOTED}|(?:(?:bearer|basic|token)\s+)?[^\s\"',;&}}\])]+)",
    re.IGNORECASE,
)

_TEXT_PATTERNS: tuple[tuple[re.Pattern[str], str], ...] = (
    # Credentials inside URLs: scheme://user:password@host
    (re.compile(r"(?P<head>\b[a-z][a-z0-9+.-]*://[^:/\s@]*:)[^@\s/]+(?=@)", re.IGNORECASE), r"\g<head>" + REDACTED),
    # Authorization schemes wherever they appear.
    (re.compile(r"\b(?P<head>bearer|basic)\s+[A-Za-z0-9._~+/=-]{8,}", re.IGNORECASE), r"\g<head> " + REDACTED),
    # JSON Web Tokens: three base64url parts, the first two JSON objects ("eyJ").
    (re.compile(r"\beyJ[A-Za-z0-9_-]{5,}\.[A-Za-z0-9_-]{5,}\.[A-Za-z0-9_-]{5,}"), "[REDACTED:jwt]"),
    # Provider keys: sk-..., sk-ant-..., sk-proj-...; AWS, GitHub and Slack tokens.
    (re.compile(r"\bsk-[A-Za-z0-9_-]{12,}"), "[REDACTED:api_key]"),
    (re.compile(r"\b(?:AKIA|ASIA)[0-9A-Z]{16}\b"), "[REDACTED:api_key]"),
    (re.compile(r"\b(?:gh[pousr]|github_pat)_[A-Za-z0-9_]{20,}"), "[REDACTED:api_key]"),
    (re.compile(r"\bxox[abprs]-[A-Za-z0-9-]{10,}"), "[REDACTED:api_key]"),
    # The portal's own API keys, kp_<public prefix>_<secret> (apps/api/key_material.py): the prefix
    # names the key in the admin and stays readable, the secret goes.
    (re.compile(r"\b(?P<head>kp_[0-9a-f]{12}_)[A-Za-z0-9_-]{16,}"), r"\g<head>" + REDACTED),
    # PEM private keys.
    (
        re.compile(r"-----BEGIN [A-Z ]*PRIVATE KEY-----.*?-----END [A-Z ]*PRIVATE KEY-----", re.DOTALL),
        "[REDACTED:private_key]",
    ),
)


def _redact_key_value(match: re.Match[str]) -> str:
    value = match.group("value")
    quote = value[0] if value[:1] in {'"', "'"} else ""
    return f"{match.group('key')}{match.group('sep')}{quote}{REDACTED}{quote}"


def redact_secrets(text: str) -> str:
    text = _KEY_VALUE.sub(_redact_key_value, text)
    for pattern, replacement in _TEXT_PATTERNS:
        text = pattern.sub(replacement, text)
    return text


def redact_structure(value: Any, *, redact_text: Callable[[str], str], depth: int = 0) -> Any:
    """Walk dicts, lists and tuples; secret and content keys lose their values, strings are redacted."""
    if depth > 8:
        return "[REDACTED:too_deep]"
    if isinstance(value, str):
        return redact_text(value)
    if value is None or isinstance(value, bool | int | float):
        return value
    if isinstance(value, dict):
        return {key: _redact_item(key, item, redact_text=redact_text, depth=depth) for key, item in value.items()}
    if isinstance(value, list | tuple | set | frozenset):
        return [redact_structure(item, redact_text=redact_text, depth=depth + 1) for item in value]
    return redact_text(str(value))


def _redact_item(key: Any, item: Any, *, redact_text: Callable[[str], str], depth: int) -> Any:
    name = str(key)
    if SECRET_KEY_NAME.match(name) and item not in (None, ""):
        return REDACTED
    if CONTENT_KEY_NAME.match(name) and isinstance(item, str) and item:
        return f"[REDACTED:content len={len(item)}]"
    return redact_structure(item, redact_text=redact_text, depth=depth + 1)
