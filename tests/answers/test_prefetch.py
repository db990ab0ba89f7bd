"""PrefetchedStream: the first delta of a stream is fetched in a background thread; the caller keeps
the stream (and reads the rest itself) or abandons it (and it is closed once the thread is done)."""

from __future__ import annotations

import contextvars
import threading
import time
from collections.abc import Generator

import pytest

from apps.answers.router.prefetch import PrefetchedStream

request_id = contextvars.ContextVar("request_id", default="none")
WAIT = 5.0


class Probe:
    """A generator's life: which thread ran each step, in which context, and whether it was closed."""

    def __init__(self, deltas: list[str], *, hold_first: bool = False, fail_first: bool = False) -> None:
        self.deltas = deltas
        self.release_first = threading.Event()
        if not hold_first:
            self.release_first.set()
        self.fail_first = fail_first
        self.threads: list[str] = []
        self.seen_request_id = ""
        self.closed = threading.Event()

    def stream(self) -> Generator[str, None, None]:
        try:
            self.seen_request_id = request_id.get()
            self.release_first.wait(WAIT)
            if self.fail_first:
                raise ConnectionResetError("upstream went away")
            for delta in self.deltas:
                self.threads.append(threading.current_thread().name)
                yield delta
        finally:
            self.closed.set()


def test_a_kept_stream_yields_every_delta_and_the_rest_is_read_by_the_caller():
    probe = Probe(["a", "b", "c"])
    request_id.set("req-7")

    deltas = list(PrefetchedStream(probe.stream()))

    assert deltas == ["a", "b", "c"]
    assert probe.seen_request_id == "req-7"  # the thread runs in a copy of the caller's context
    assert probe.threads[0] == "answer-prefetch"
    assert set(probe.threads[1:]) == {threading.current_thread().name}


def wait_until(condition) -> bool:
    deadline = time.monotonic() + WAIT
    while not condition() and time.monotonic() < deadline:
        time.sleep(0.005)
    return bool(condition())


def test_the_first_delta_is_requested_before_the_caller_asks_for_it():
    probe = Probe(["a"])

    stream = PrefetchedStream(probe.stream())

    assert wait_until(lambda: probe.threads == ["answer-prefetch"])
    assert next(stream) == "a"


def test_abandoning_before_the_first_delta_closes_the_stream_when_it_arrives():
    probe = Probe(["a", "b"], hold_first=True)
    stream = PrefetchedStream(probe.stream())

    stream.close()
    assert not probe.closed.is_set()  # still waiting upstream: nothing to close yet
    probe.release_first.set()

    assert probe.closed.wait(WAIT)
    assert probe.threads == ["answer-prefetch"]  # the second delta was never read


def test_abandoning_after_the_first_delta_closes_the_stream_at_once():
    probe = Probe(["a", "b"])
    stream = PrefetchedStream(probe.stream())
    assert wait_until(lambda: probe.threads)

    stream.close()

    assert probe.closed.wait(WAIT)
    assert probe.threads == ["answer-prefetch"]


def test_closing_a_kept_stream_closes_it_in_the_callers_thread():
    probe = Probe(["a", "b", "c"])
    stream = PrefetchedStream(probe.stream())
    assert next(stream) == "a"
    assert next(stream) == "b"

    stream.close()

    assert probe.closed.is_set()
    with pytest.raises(StopIteration):
        next(stream)


def test_an_error_before_the_first_delta_is_raised_where_the_caller_reads():
    probe = Probe(["a"], fail_first=True)
    stream = PrefetchedStream(probe.stream())

    with pytest.raises(ConnectionResetError, match="upstream went away"):
        next(stream)
    assert probe.closed.is_set()


def test_an_empty_stream_ends_at_once():
    assert list(PrefetchedStream(Probe([]).stream())) == []
