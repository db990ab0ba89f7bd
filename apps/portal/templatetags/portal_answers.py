"""Answer text with its `[n]` markers turned into links to the cited passages."""

from __future__ import annotations

import re

from django import template
from django.utils.html import escape, format_html
from django.utils.safestring import SafeString, mark_safe
from django.utils.translation import gettext as _

register = template.Library()

MARKER = re.compile(r"\[(\d{1,3})\]")


@register.filter
def cite_links(answer: str, citations: list[dict]) -> SafeString:
    """Escape the answer (model output is untrusted) and link each known `[n]` to its passage."""
    urls = {str(item.get("number")): item.get("url", "") for item in citations or [] if item.get("url")}

    def link(match: re.Match[str]) -> str:
        url = urls.get(match.group(1))
        if not url:
            return match.group(0)
        label = _("Source %(number)s") % {"number": match.group(1)}
        return format_html('<a class="cite" href="{}" aria-label="{}">[{}]</a>', url, label, match.group(1))

    parts: list[str] = []
    last = 0
    for match in MARKER.finditer(answer or ""):
        parts.append(escape(answer[last : match.start()]))
        parts.append(link(match))
        last = match.end()
    parts.append(escape((answer or "")[last:]))
    return mark_safe("".join(parts))  # noqa: S308 - every piece is escaped or built by format_html
