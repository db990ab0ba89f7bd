"""Spread connections over the web workers by how many each already holds.

The workers share one listening socket, and whichever wakes first takes a new connection. Taking
one per wake-up (accept_one_connection_per_wakeup, below) was not enough: when fifty clients
opened 250 sockets together one worker took 172 of them, and a socket stays with its worker for
its life. Every answer on that worker then queued behind twice the work while the other idled,
and the time to a first token doubled at the 95th percentile (docs/portal.md).

So each worker publishes how many connections it holds in a small table the supervisor shares
with all of them (an anonymous memory file, inherited like the socket), and a worker holding more
than the least-loaded live worker plus a margin lets a new connection go by: it stops watching the
socket for a few milliseconds, and the other worker takes it. A worker whose entry is stale (dead,
restarting, or its event loop stuck) does not count, so nobody ever waits for it; with no other
live worker, every connection is taken at once.

Why not SO_REUSEPORT (a socket per worker, the kernel hashing connections over them): it spreads
evenly but blindly, and connections hashed to a worker that died wait, unaccepted, until its
replacement is up, where the shared socket lets the other worker take them.
"""

from __future__ import annotations

import mmap
import os
import struct
import time
from collections.abc import Callable
from typing import Any

SLOT = struct.Struct("=qd")  # connections held, monotonic time of the last report
STALE_SECONDS = 1.0  # an entry older than this is a worker that is not serving
MARGIN = 2  # connections a worker may hold above the least-loaded one and still take more
STEP_ASIDE_SECONDS = 0.005  # how long a worker ahead stops watching the socket
REPORT_EVERY_SECONDS = 0.2


class LoadTable:
    """The workers' connection counts, one slot each, in memory shared across processes."""

    def __init__(self, fd: int, workers: int) -> None:
        self.fd, self.workers = fd, workers
        self.memory = mmap.mmap(fd, SLOT.size * workers)

    @classmethod
    def create(cls, workers: int) -> LoadTable:
        """In the supervisor: a table its children inherit (pass `fd` to them)."""
        fd = os.memfd_create("portal-web-load", 0)  # Linux; anonymous, gone with its last holder
        os.ftruncate(fd, SLOT.size * workers)
        os.set_inheritable(fd, True)
        return cls(fd, workers)

    @classmethod
    def inherited(cls, fd: int) -> LoadTable:
        """In a worker: the supervisor's table, sized by its file."""
        return cls(fd, os.fstat(fd).st_size // SLOT.size)

    def report(self, slot: int, connections: int) -> None:
        SLOT.pack_into(self.memory, slot * SLOT.size, connections, time.monotonic())

    def forget(self, slot: int) -> None:
        """The supervisor saw the worker exit: its count no longer holds anyone back."""
        SLOT.pack_into(self.memory, slot * SLOT.size, 0, 0.0)

    def should_step_aside(self, slot: int, connections: int) -> bool:
        """Whether the worker in `slot`, holding `connections`, should leave a new one to another."""
        now = time.monotonic()
        others = []
        for other in range(self.workers):
            if other == slot:
                continue
            held, reported_at = SLOT.unpack_from(self.memory, other * SLOT.size)
            if now - reported_at <= STALE_SECONDS:
                others.append(held)
        return bool(others) and connections > min(others) + MARGIN


def accept_one_connection_per_wakeup() -> None:
    """Make this worker take one new connection each time the shared socket wakes it.

    Twisted accepts up to 100 connections per wake-up (and raises that number while it succeeds),
    so when clients connect together one worker took nearly all of them; with keep-alive they stay
    there, and that worker's latency doubled while the other idled. One at a time, the worker that
    is less busy wakes sooner and takes more; accept_by_load evens out what that leaves.
    """
    from twisted.internet import tcp

    tcp.Port.numberAccepts = property(lambda _port: 1, lambda _port, _value: None)  # type: ignore[assignment]


def open_connections(reactor: Any) -> int:
    """Accepted connections this process holds open, counted from the moment they are accepted
    (daphne's own table learns of one only when its first request has been read)."""
    from twisted.internet import tcp

    return sum(1 for reader in reactor.getReaders() if isinstance(reader, tcp.Server))


def accept_by_load(*, table: LoadTable, slot: int, connections: Callable[[], int]) -> None:
    """In a worker: before taking a connection, report this worker's load and step aside when ahead.

    Patches the listening port class of this process only (each worker is a process of its own).
    """
    from twisted.internet import reactor, task, tcp

    original_do_read = tcp.Port.doRead

    def do_read(port: tcp.Port) -> None:
        held = connections()
        table.report(slot, held)
        if table.should_step_aside(slot, held):
            port.stopReading()
            reactor.callLater(STEP_ASIDE_SECONDS, _resume, port)  # type: ignore[arg-type]  # zope interface stub
            return
        original_do_read(port)

    tcp.Port.doRead = do_read  # type: ignore[method-assign]
    # Counts also fall as connections close, and a report proves this worker is alive.
    task.LoopingCall(lambda: table.report(slot, connections())).start(REPORT_EVERY_SECONDS)


def _resume(port: Any) -> None:
    if port.connected:  # not closed meanwhile (a drain stops listening)
        port.startReading()
