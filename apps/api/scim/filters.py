"""SCIM filters as identity providers send them: `attribute eq "value"`, joined by `and`.

Okta asks `userName eq "alice@example.com"`; Entra ID asks `userName eq "..."`, `externalId eq
"..."` and `displayName eq "..."` for groups. Anything else is refused as invalidFilter rather
than half-understood (a filter read wrongly would match the wrong person).
"""

from __future__ import annotations

import json
import re

from .errors import ScimError

CLAUSE = re.compile(
    r'\s*(?P<attribute>[A-Za-z][A-Za-z0-9.:_$-]*)\s+(?P<op>eq)\s+(?P<value>"(?:[^"\\]|\\.)*"|true|false)\s*',
    re.IGNORECASE,
)
AND = re.compile(r"and(?=\s)", re.IGNORECASE)


def scim_filter_parse(text: str, *, attributes: dict[str, str]) -> dict[str, object]:
    """`attributes` maps each filterable SCIM attribute (lower case) to our field name; returns
    field -> value for every clause."""
    if len(text) > 1000:
        raise ScimError(400, "the filter is too long", "invalidFilter")
    found: dict[str, object] = {}
    position = 0
    while True:
        match = CLAUSE.match(text, position)
        if match is None:
            raise ScimError(
                400, f'unsupported filter; use: attribute eq "value" [and ...]: {text[:200]}', "invalidFilter"
            )
        attribute = match["attribute"].lower()
        if attribute not in attributes:
            raise ScimError(400, f"cannot filter on {match['attribute']}", "invalidFilter")
        raw = match["value"]
        try:
            found[attributes[attribute]] = json.loads(raw) if raw.startswith('"') else raw.lower() == "true"
        except ValueError as error:
            raise ScimError(400, "a filter value is not a valid string", "invalidFilter") from error
        position = match.end()
        if position == len(text):
            return found
        joiner = AND.match(text, position)
        if joiner is None:
            raise ScimError(400, "clauses are joined by and only", "invalidFilter")
        position = joiner.end()
