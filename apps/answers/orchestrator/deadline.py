"""The overall time limit of one question (roadmap 3.1), checked between steps and between tokens."""

from __future__ import annotations

import time

from apps.answers.errors import QueryTimeoutError


class Deadline:
    def __init__(self, seconds: float) -> None:
        self.seconds = seconds
        self.started = time.perf_counter()
        self.expires = self.started + seconds

    def elapsed_ms(self) -> float:
        return (time.perf_counter() - self.started) * 1000

    def remaining(self) -> float:
        return max(0.0, self.expires - time.perf_counter())

    def check(self, step: str) -> None:
        if time.perf_counter() >= self.expires:
            raise QueryTimeoutError(f"the question ran past its {self.seconds:g} s limit (in {step})", step=step)
