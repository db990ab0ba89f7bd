"""Content filter hooks (toxicity, sensitive topics): a deployment plugs in its own classifiers.

settings.ANSWER_CONTENT_FILTERS lists dotted paths of hooks, called in order as
`hook(text=..., stage=...)`; a class is instantiated first (no arguments). A hook returns a
FilterVerdict, or None for "no objection". The first refusal wins. A hook that raises refuses too
(fail closed: a safety control that cannot run must not wave content through); the log gets the
hook and error type, never the text.

Stages used by the answer pipeline: "question" (the user's question), "passage" (a retrieved
chunk), "answer" (the generated text).
"""

from __future__ import annotations

import logging
import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from django.conf import settings
from django.utils.module_loading import import_string

from apps.core.errors import AdapterConfigurationError

from .normalise import deleet, normalised

logger = logging.getLogger(__name__)

STAGE_PATTERN = re.compile(r"^[a-z][a-z_]{0,31}$")


@dataclass(frozen=True)
class FilterVerdict:
    allowed: bool
    reason: str = ""


ALLOWED = FilterVerdict(allowed=True)


def _hook(dotted_path: str) -> Callable[..., Any]:
    try:
        loaded = import_string(dotted_path)
    except ImportError as error:
        raise AdapterConfigurationError(f"settings.ANSWER_CONTENT_FILTERS: cannot import {dotted_path!r}") from error
    return loaded() if isinstance(loaded, type) else loaded


def content_filters_run(*, text: str, stage: str) -> FilterVerdict:
    """Run every configured hook on `text`; allowed only if none objects."""
    if not STAGE_PATTERN.match(stage):
        raise ValueError(f"content filter stage must be a lowercase name such as 'question', not {stage!r}")
    for dotted_path in settings.ANSWER_CONTENT_FILTERS:
        hook = _hook(dotted_path)
        try:
            verdict = hook(text=text, stage=stage)
        except Exception as error:  # noqa: BLE001 - any failure of a hook must refuse, not crash the answer
            logger.error("content filter %s failed at stage %s: %s", dotted_path, stage, type(error).__name__)
            return FilterVerdict(allowed=False, reason=f"content filter {dotted_path} could not run")
        if verdict is not None and not verdict.allowed:
            return FilterVerdict(allowed=False, reason=verdict.reason or f"refused by {dotted_path}")
    return ALLOWED


class BlockedTermsFilter:
    """Refuses text that mentions any of settings.ANSWER_BLOCKED_TERMS (whole words, case and
    obfuscation insensitive: look-alike letters, zero-width characters and leetspeak are undone)."""

    def __init__(self, terms: list[str] | None = None) -> None:
        terms = [normalised(term) for term in (settings.ANSWER_BLOCKED_TERMS if terms is None else terms)]
        alternatives = "|".join(re.escape(term) for term in terms if term)
        self._pattern = re.compile(rf"\b(?:{alternatives})\b") if alternatives else None

    def __call__(self, *, text: str, stage: str) -> FilterVerdict | None:
        if self._pattern is None:
            return None
        plain = normalised(text)
        if self._pattern.search(plain) or self._pattern.search(deleet(plain)):
            return FilterVerdict(allowed=False, reason=f"the {stage} touches a blocked topic")
        return None
