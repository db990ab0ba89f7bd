"""Concurrent identical computations run once; callers that waited get objects of their own."""

from __future__ import annotations

import threading
from concurrent.futures import ThreadPoolExecutor

import pytest

from apps.core.single_flight import SingleFlight


def flight() -> SingleFlight[list[int]]:
    return SingleFlight(freeze=tuple, thaw=list)


def test_callers_arriving_during_a_computation_share_it_and_get_their_own_copies():
    single, release, calls = flight(), threading.Event(), []

    def compute() -> list[int]:
        calls.append(1)
        release.wait(5)
        return [1, 2, 3]

    with ThreadPoolExecutor(8) as pool:
        futures = [pool.submit(single.run, "k", compute, wait_seconds=5) for _ in range(8)]
        threading.Event().wait(0.3)  # all eight are in: one computing, seven waiting
        release.set()
        results = [future.result() for future in futures]
    assert len(calls) == 1
    assert all(result == [1, 2, 3] for result in results)
    assert len({id(result) for result in results}) == 8
    assert single.in_flight() == 0


def test_a_failed_leader_passes_nothing_on_and_the_waiter_computes_for_itself():
    single, started, release = flight(), threading.Event(), threading.Event()

    def failing() -> list[int]:
        started.set()
        release.wait(5)
        raise RuntimeError("leg down")

    with ThreadPoolExecutor(2) as pool:
        leader = pool.submit(single.run, "k", failing, wait_seconds=5)
        started.wait(5)
        waiter = pool.submit(single.run, "k", lambda: [7], wait_seconds=5)
        release.set()
        with pytest.raises(RuntimeError):
            leader.result()
        assert waiter.result() == [7]


def test_a_waiter_stops_waiting_after_its_limit_and_computes():
    single, started, release = flight(), threading.Event(), threading.Event()

    def slow() -> list[int]:
        started.set()
        release.wait(5)
        return [1]

    with ThreadPoolExecutor(2) as pool:
        leader = pool.submit(single.run, "k", slow, wait_seconds=5)
        started.wait(5)
        assert single.run("k", lambda: [2], wait_seconds=0.1) == [2]
        release.set()
        assert leader.result() == [1]


def test_different_keys_do_not_wait_for_each_other():
    single, release = flight(), threading.Event()
    with ThreadPoolExecutor(1) as pool:
        blocked = pool.submit(single.run, "a", lambda: [release.wait(5) and 1], wait_seconds=5)
        assert single.run("b", lambda: [2], wait_seconds=5) == [2]
        release.set()
        assert blocked.result() == [1]
