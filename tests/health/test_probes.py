"""/health/live and /health/ready against a real portal process whose dependencies really stop."""

from __future__ import annotations

import pytest

from tests.support.live_server import LiveStack

pytestmark = [pytest.mark.integration, pytest.mark.slow]


@pytest.fixture(scope="module")
def stack(tmp_path_factory):
    live = LiveStack(home=tmp_path_factory.mktemp("health-stack"))
    try:
        live.start()
        yield live
    finally:
        live.stop()


def ready(stack: LiveStack) -> tuple[int, dict]:
    return stack.get_json("/health/ready")


def test_live_answers_on_any_host(stack):
    for host in (None, "10.1.2.3:8000", "unknown.example.com"):
        status, body = stack.get_json("/health/live", host=host)
        assert (status, body) == (200, {"status": "alive"})


def test_ready_with_every_service_up(stack):
    status, body = ready(stack)
    assert status == 200
    assert body["ready"] is True
    assert body["status"] == "ok"
    assert body["checks"] == {"postgres": True, "tenant_keys": True, "redis": True, "neo4j": True}


def test_ready_answers_by_ip_without_a_tenant_host(stack):
    status, body = stack.get_json("/health/ready", host="192.0.2.10")
    assert status == 200
    assert body["ready"] is True


@pytest.mark.parametrize("service", ["redis", "neo4j"])
def test_stopping_an_optional_service_degrades_and_recovers(stack, service):
    stack.services[service].stop()
    try:
        status, body = ready(stack)
        assert status == 200
        assert body["ready"] is True
        assert body["status"] == "degraded"
        assert body["checks"][service] is False
        assert body["checks"]["postgres"] is True
        # The reason is given without leaking the URL or its password.
        detail = body["details"][service]["detail"]
        assert detail
        assert stack.services[service].state.password not in detail
    finally:
        stack.services[service].start()
    stack.wait_for(lambda: ready(stack)[1].get("checks", {}).get(service) is True, what=f"{service} to recover")


def test_stopping_postgres_makes_ready_503_then_recovers(stack):
    stack.services["postgres"].stop()
    try:
        status, body = ready(stack)
        assert status == 503
        assert body["ready"] is False
        assert body["status"] == "unavailable"
        assert body["checks"]["postgres"] is False
        live_status, _ = stack.get_json("/health/live")
        assert live_status == 200
    finally:
        stack.services["postgres"].start()
    stack.wait_for(lambda: ready(stack)[0] == 200, what="postgres to recover")
