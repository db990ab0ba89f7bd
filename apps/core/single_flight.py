"""One computation per key at a time in this process; callers that arrive meanwhile share its result.

Why: right after a start every cache is cold, and fifty people asking the same few questions at
once ran the same query embedding fifty times on the web process's cores (used by
apps/integrations/embeddings/cache.py). Go's `singleflight` is the model; Python has no maintained
equivalent that is thread-based and bounded, and this is twenty lines.

The leader keeps a frozen copy of its result (`freeze`, before anyone can change the original) and
each caller that waited gets its own objects from it (`thaw`): nothing is shared between threads.
A caller waits at most `wait_seconds`, then computes by itself; a leader that failed passes
nothing on (each waiter computes by itself, and sees its own error if there is one).
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import Any, Generic, TypeVar

T = TypeVar("T")


class _Call:
    def __init__(self) -> None:
        self.done = threading.Event()
        self.frozen: Any = None


class SingleFlight(Generic[T]):
    def __init__(self, *, freeze: Callable[[T], Any], thaw: Callable[[Any], T]) -> None:
        self.freeze, self.thaw = freeze, thaw
        self._guard = threading.Lock()
        self._calls: dict[str, _Call] = {}

    def run(self, key: str, compute: Callable[[], T], *, wait_seconds: float) -> T:
        with self._guard:
            call = self._calls.get(key)
            leading = call is None
            if call is None:
                call = self._calls[key] = _Call()
        if leading:
            return self._lead(key, call, compute)
        if call.done.wait(wait_seconds) and call.frozen is not None:
            return self.thaw(call.frozen)
        return compute()

    def _lead(self, key: str, call: _Call, compute: Callable[[], T]) -> T:
        try:
            result = compute()
            call.frozen = self.freeze(result)
            return result
        finally:
            with self._guard:
                del self._calls[key]
            call.done.set()

    def in_flight(self) -> int:
        with self._guard:
            return len(self._calls)
