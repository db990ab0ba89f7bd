"""Rate limits on the endpoints: headers, 429, refill, isolation, overrides, Redis down."""

from __future__ import annotations

import copy
import logging

import pytest
from django.conf import settings as django_settings

from apps.core.metrics import rate_limit_fail_open_total
from apps.tenants.services import tenant_settings_update
from tests.support.embedded import devservices

from .clock import manual_clock
from .conftest import ALPHA_HOST, make_key, tenant_user

pytestmark = [pytest.mark.django_db, pytest.mark.integration]

DOCUMENTS = "/api/v1/documents"  # route class "ingest"
SETTINGS = "/api/v1/admin/settings"  # route class "admin"


def limits(principal: tuple[int, float], tenant: tuple[int, float] = (1000, 100.0)) -> dict:
    configured = copy.deepcopy(django_settings.API_RATE_LIMITS)
    for route_class in configured:
        configured[route_class]["principal"] = {"capacity": principal[0], "refill_per_second": principal[1]}
        configured[route_class]["tenant"] = {"capacity": tenant[0], "refill_per_second": tenant[1]}
    return configured


@pytest.fixture(autouse=True)
def _manual_clock(settings):
    settings.API_RATE_LIMITER = {**settings.API_RATE_LIMITER, "CLOCK": "tests.api.clock.manual_clock"}


def get(client, key, path=DOCUMENTS):
    return client.get(path, HTTP_X_API_KEY=key, HTTP_HOST=ALPHA_HOST)


def test_every_checked_response_carries_ratelimit_headers(api_client, alpha_key, settings):
    settings.API_RATE_LIMITS = limits((5, 1.0))
    response = get(api_client, alpha_key)

    assert response.status_code == 200
    assert (response["RateLimit-Limit"], response["RateLimit-Remaining"], response["RateLimit-Reset"]) == (
        "5",
        "4",
        "1",
    )


def test_an_empty_bucket_is_429_with_retry_after_and_refills_with_time(api_client, alpha_key, settings):
    settings.API_RATE_LIMITS = limits((2, 0.25))
    assert [get(api_client, alpha_key).status_code for _ in range(2)] == [200, 200]

    refused = get(api_client, alpha_key)
    assert refused.status_code == 429
    assert refused["Retry-After"] == "4"  # one token at 0.25 per second
    assert refused["RateLimit-Remaining"] == "0"
    assert refused.json()["error"] == {
        "code": "rate_limited",
        "message": "Too many requests; slow down and retry after the indicated time.",
        "details": {"retry_after": 4},
    }

    manual_clock.advance(3.9)
    assert get(api_client, alpha_key).status_code == 429
    manual_clock.advance(0.1)
    assert get(api_client, alpha_key).status_code == 200


def test_each_key_has_its_own_bucket(api_client, tenant_alpha, alpha_user, alpha_key, settings):
    settings.API_RATE_LIMITS = limits((1, 0.01))
    second_key = make_key(tenant_alpha, alpha_user)

    assert get(api_client, alpha_key).status_code == 200
    assert get(api_client, alpha_key).status_code == 429
    assert get(api_client, second_key).status_code == 200


def test_the_tenant_bucket_caps_all_keys_together(api_client, tenant_alpha, settings):
    settings.API_RATE_LIMITS = limits((10, 1.0), tenant=(3, 0.01))
    keys = [make_key(tenant_alpha, tenant_user(tenant_alpha)) for _ in range(4)]
    assert [get(api_client, key).status_code for key in keys] == [200, 200, 200, 429]


def test_route_classes_have_separate_buckets(api_client, tenant_alpha, alpha_admin, settings):
    settings.API_RATE_LIMITS = limits((1, 0.01))
    key = make_key(tenant_alpha, alpha_admin, scopes=("ingest", "admin"))

    assert get(api_client, key, SETTINGS).status_code == 200
    assert get(api_client, key, SETTINGS).status_code == 429
    assert get(api_client, key, DOCUMENTS).status_code == 200


def test_the_control_plane_is_stricter_by_default():
    configured = django_settings.API_RATE_LIMITS
    assert configured["admin"]["principal"]["capacity"] < configured["query"]["principal"]["capacity"]
    assert configured["admin"]["principal"]["refill_per_second"] < configured["query"]["principal"]["refill_per_second"]


def test_tenant_settings_and_keys_override_the_callers_bucket(api_client, tenant_alpha, alpha_admin, settings):
    settings.API_RATE_LIMITS = limits((1, 0.01))
    tenant_settings_update(
        schema_name="alpha", actor=alpha_admin, rate_limits={"ingest": {"capacity": 3, "refill_per_second": 0.01}}
    )
    tenant_wide = make_key(tenant_alpha, alpha_admin)
    generous = make_key(tenant_alpha, alpha_admin, rate_limits={"ingest": {"capacity": 5, "refill_per_second": 0.01}})

    assert [get(api_client, tenant_wide).status_code for _ in range(4)] == [200, 200, 200, 429]
    assert get(api_client, generous)["RateLimit-Limit"] == "5"


def test_redis_down_lets_the_data_plane_through_with_a_warning_and_a_metric(
    api_client, alpha_admin_key, settings, caplog
):
    closed_port = devservices.free_loopback_port()
    settings.API_RATE_LIMITER = {
        **settings.API_RATE_LIMITER,
        "OPTIONS": {**settings.API_RATE_LIMITER["OPTIONS"], "redis_url": f"redis://127.0.0.1:{closed_port}/0"},
    }
    before = rate_limit_fail_open_total.labels(route_class="ingest")._value.get()

    with caplog.at_level(logging.WARNING, logger="apps.api.ratelimit.throttle"):
        data_plane = get(api_client, alpha_admin_key, DOCUMENTS)
        control_plane = get(api_client, alpha_admin_key, SETTINGS)

    assert data_plane.status_code == 200
    assert "RateLimit-Limit" not in data_plane
    assert rate_limit_fail_open_total.labels(route_class="ingest")._value.get() == before + 1
    assert any("allowing ingest request unchecked" in record.getMessage() for record in caplog.records)
    assert control_plane.status_code == 503
    assert control_plane.json()["error"]["code"] == "rate_limiter_unavailable"
    assert not any(str(closed_port) in r.getMessage() and "@" in r.getMessage() for r in caplog.records)
