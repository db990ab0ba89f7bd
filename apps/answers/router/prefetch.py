"""Speculative generation: ask the provider while the evidence is still being judged.

A remote model spends most of an answer's time to first token before its first byte. The evidence
check (sentence embeddings of every passage) only decides *whether* to answer, not what the prompt
says, so the synthesizer can send the request first and judge the evidence while the model thinks.
`PrefetchedStream` fetches the first delta of a router stream in a background thread; the caller
then either keeps the stream (the first delta is waiting for it, the rest is read in the caller's
own thread, exactly as without prefetching) or abandons it (a refusal): the stream is closed as
soon as the background thread returns, which also releases the provider's slot and settles the
token budget (the estimate of what the cancelled request cost).

Only one thread touches the underlying generator at a time: the background thread until its first
`next()` returns, the caller after that. The thread runs in a copy of the caller's context (tenant,
request id, trace) and closes any database connection it opened, so it leaks nothing.
"""

from __future__ import annotations

import contextvars
import threading
from collections.abc import Generator, Iterator

from django.db import connections

_END = object()


class PrefetchedStream(Iterator[str]):
    def __init__(self, stream: Generator[str, None, None]) -> None:
        self._stream = stream
        self._first: object = _END
        self._error: Exception | None = None
        self._fetched = threading.Event()
        self._lock = threading.Lock()
        self._abandoned = False
        self._taken = False
        context = contextvars.copy_context()
        threading.Thread(target=context.run, args=(self._fetch_first,), name="answer-prefetch", daemon=True).start()

    def _fetch_first(self) -> None:
        try:
            self._first = next(self._stream, _END)
        except Exception as error:  # noqa: BLE001 - not swallowed: re-raised where the caller reads
            self._error = error
        finally:
            connections.close_all()  # this thread's own connections only
            with self._lock:
                self._fetched.set()
                abandoned = self._abandoned
            if abandoned:
                self._stream.close()

    def __next__(self) -> str:
        if self._taken:
            return next(self._stream)
        self._fetched.wait()  # bounded by the provider's timeout, as a direct read would be
        self._taken = True
        if self._error is not None:
            raise self._error
        if self._first is _END:
            raise StopIteration
        return self._first  # type: ignore[return-value]

    def close(self) -> None:
        """Abandon the stream: closed now if the first delta is in, else by the thread when it is."""
        with self._lock:
            self._abandoned = True
            if not self._fetched.is_set():
                return
        self._stream.close()
