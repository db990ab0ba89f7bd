"""A clock tests move by hand; settings.API_RATE_LIMITER["CLOCK"] can name `manual_clock`."""

from __future__ import annotations


class ManualClock:
    def __init__(self, start: float = 1_000_000.0) -> None:
        self.now = start

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds


manual_clock = ManualClock()
