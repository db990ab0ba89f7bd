"""Errors of the answer pipeline that callers act on."""

from __future__ import annotations

from apps.core.errors import PortalError


class QueryTimeoutError(PortalError):
    """The question ran past settings.ANSWER_TIMEOUT_SECONDS, or one step past its own budget.

    `query_id` is the QueryLog row recorded with outcome timed_out (set once it is written), so a
    surface can still attach feedback or show the id.
    """

    def __init__(self, message: str, *, step: str = "", query_id: int | None = None) -> None:
        super().__init__(message)
        self.step = step
        self.query_id = query_id
