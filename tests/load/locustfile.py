"""Load test of POST /api/v1/query: `make bench-api` (20 users, 60 s, headless, loopback).

Run against a running `make run` server. The key comes from PORTAL_API_KEY and names the tenant
itself, so the platform host (localhost) is enough. Not collected by pytest (pyproject ignores
tests/load): importing locust monkey-patches the process with gevent.

At the end it prints one summary line (p50/p95/p99 latency, requests/s, error rate) and exits
non-zero if any request failed.
"""

from __future__ import annotations

import os
import random

from locust import HttpUser, constant, events, task

# Questions the sample handbook (docs/samples/handbook) answers, plus one it cannot.
QUESTIONS = [
    "What is the refund policy?",
    "How many days of annual leave do full-time employees get?",
    "When is a doctor's certificate required for sick leave?",
    "How long must passwords be?",
    "Who approves refunds above EUR 5,000?",
    "Where do new employees collect their laptop on day one?",
    "How many unused leave days can be carried over?",
    "Is multi-factor authentication mandatory for the VPN?",
    "What is the capital of Mongolia?",
]
OUTCOMES = {"answered", "refused"}


class ApiQueryUser(HttpUser):
    wait_time = constant(0)

    def on_start(self) -> None:
        key = os.environ.get("PORTAL_API_KEY")
        if not key:
            raise RuntimeError("set PORTAL_API_KEY (make bench-api creates one)")
        self.client.headers.update({"X-API-Key": key})

    @task
    def ask(self) -> None:
        question = random.choice(QUESTIONS)
        with self.client.post(
            "/api/v1/query", json={"question": question}, name="POST /api/v1/query", catch_response=True
        ) as response:
            if response.status_code != 200:
                response.failure(f"HTTP {response.status_code}: {response.text[:200]}")
            elif response.json().get("outcome") not in OUTCOMES:
                response.failure(f"outcome {response.json().get('outcome')!r}")


@events.quitting.add_listener
def _summary(environment, **_kwargs) -> None:
    total = environment.stats.total
    error_rate = total.num_failures / total.num_requests if total.num_requests else 0.0
    print(
        f"\nPOST /api/v1/query: {total.num_requests} requests, {total.total_rps:.1f} req/s, "
        f"p50 {total.get_response_time_percentile(0.5):.0f} ms, p95 {total.get_response_time_percentile(0.95):.0f} ms, "
        f"p99 {total.get_response_time_percentile(0.99):.0f} ms, errors {error_rate:.2%} ({total.num_failures})"
    )
    if total.num_failures:
        environment.process_exit_code = 1
