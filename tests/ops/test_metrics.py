"""/metrics: who may read it, the environment label on every series, and the portal's own metrics."""

from __future__ import annotations

import os
import subprocess
import sys
import uuid
from collections.abc import Iterator
from typing import Any

import pytest
import redis
from django.conf import settings
from django.contrib.auth.models import Group
from django.test import Client, override_settings
from prometheus_client import REGISTRY
from prometheus_client.parser import text_string_to_metric_families

from apps.accounts.models import User
from apps.documents.models import Document
from apps.documents.services import document_access_grant
from apps.ingestion.services import UploadedFile, document_upload
from apps.retrieval.search import retrieve
from apps.tenants.context import in_tenant
from apps.tenants.models import Tenant
from config.celery_app import app as celery_app
from config.settings.environment import BASE_DIR
from tests.support.committed import committed_tenant

pytestmark = pytest.mark.integration

TOKEN = "metrics-token-" + "x" * 24


def scrape(**headers: Any) -> tuple[int, str]:
    response = Client().get("/metrics", **headers)
    return response.status_code, response.content.decode()


def sample(name: str, **labels: str) -> float:
    return REGISTRY.get_sample_value(name, labels) or 0.0


@override_settings(METRICS_BEARER_TOKEN=TOKEN, METRICS_ALLOWED_IPS=[])
def test_metrics_need_the_bearer_token():
    assert scrape(REMOTE_ADDR="10.0.0.7")[0] == 403
    assert scrape(REMOTE_ADDR="10.0.0.7", HTTP_AUTHORIZATION="Bearer wrong-token")[0] == 403
    assert scrape(REMOTE_ADDR="10.0.0.7", HTTP_AUTHORIZATION=f"Basic {TOKEN}")[0] == 403
    status, body = scrape(REMOTE_ADDR="10.0.0.7", HTTP_AUTHORIZATION=f"Bearer {TOKEN}")
    assert status == 200
    assert "portal_retrieval_leg_seconds" in body


@override_settings(METRICS_BEARER_TOKEN="", METRICS_ALLOWED_IPS=["10.0.0.0/8", "not-a-network"])
def test_metrics_allow_listed_addresses_only_by_socket_peer():
    assert scrape(REMOTE_ADDR="10.20.30.40")[0] == 200
    assert scrape(REMOTE_ADDR="192.168.1.9")[0] == 403
    # A forwarded header is not trusted: anyone can send one.
    assert scrape(REMOTE_ADDR="192.168.1.9", HTTP_X_FORWARDED_FOR="10.1.1.1")[0] == 403
    # No token configured: a bearer header opens nothing.
    assert scrape(REMOTE_ADDR="192.168.1.9", HTTP_AUTHORIZATION="Bearer ")[0] == 403


@override_settings(METRICS_BEARER_TOKEN="", METRICS_ALLOWED_IPS=[])
def test_nothing_configured_means_nobody_reads_metrics():
    assert scrape(REMOTE_ADDR="127.0.0.1")[0] == 403


@override_settings(METRICS_BEARER_TOKEN=TOKEN)
def test_metrics_answer_on_any_host_header():
    response = Client().get("/metrics", HTTP_HOST="10.9.8.7:8000", HTTP_AUTHORIZATION=f"Bearer {TOKEN}")
    assert response.status_code == 200


@override_settings(METRICS_BEARER_TOKEN=TOKEN)
def test_every_series_carries_the_environment_setting():
    assert settings.PORTAL_ENV == "test"
    status, body = scrape(HTTP_AUTHORIZATION=f"Bearer {TOKEN}")
    assert status == 200
    families = list(text_string_to_metric_families(body))
    samples = [s for family in families for s in family.samples]
    assert len(samples) > 50
    assert {s.labels.get("environment") for s in samples} == {"test"}
    names = {family.name for family in families}
    # django-prometheus, the process collector and our own definitions alike.
    assert {"django_http_requests_before_middlewares", "python_info", "portal_llm_calls"} <= names


@override_settings(METRICS_BEARER_TOKEN=TOKEN, PORTAL_SHARD="b")
def test_every_series_names_the_shard_of_its_process():
    status, body = scrape(HTTP_AUTHORIZATION=f"Bearer {TOKEN}")
    assert status == 200
    samples = [s for family in text_string_to_metric_families(body) for s in family.samples]
    assert {s.labels.get("shard") for s in samples} == {"b"}


@pytest.mark.parametrize(("overrides", "expected"), [({}, "production"), ({"PORTAL_ENV": "staging"}, "staging")])
def test_production_names_its_environment(overrides, expected):
    env = {key: value for key, value in os.environ.items() if key not in {"PORTAL_ENV", "DEBUG"}}
    env.update(
        DJANGO_SETTINGS_MODULE="config.settings.production",
        SECRET_KEY="p" * 40,
        DATABASE_URL=settings.DATABASE_URL,
        **overrides,
    )
    result = subprocess.run(
        [sys.executable, "-c", "from django.conf import settings; print(settings.PORTAL_ENV)"],
        cwd=BASE_DIR,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )
    assert result.stdout.strip() == expected


@pytest.fixture
def probe_queue() -> Iterator[str]:
    name = f"ops_probe_{uuid.uuid4().hex[:8]}"
    client = redis.Redis.from_url(settings.CELERY_BROKER_URL)
    try:
        yield name
    finally:
        client.delete(name)
        client.close()


@pytest.mark.filterwarnings("ignore::celery.exceptions.AlwaysEagerIgnored")
@override_settings(METRICS_BEARER_TOKEN=TOKEN)
def test_queue_depth_is_read_from_the_broker(probe_queue):
    routes = {**settings.CELERY_TASK_ROUTES, "ops.never_consumed": {"queue": probe_queue}}
    for _ in range(3):
        celery_app.send_task("ops.never_consumed", queue=probe_queue)
    with override_settings(CELERY_TASK_ROUTES=routes):
        _, body = scrape(HTTP_AUTHORIZATION=f"Bearer {TOKEN}")
    depth = {
        s.labels["queue"]: s.value
        for family in text_string_to_metric_families(body)
        if family.name == "portal_celery_queue_depth"
        for s in family.samples
    }
    assert depth[probe_queue] == 3
    assert set(depth) >= {"default", "ingestion"}


@pytest.fixture(scope="module")
def tenant(django_db_setup, django_db_blocker) -> Iterator[Tenant]:
    with django_db_blocker.unblock(), committed_tenant("ops_metrics") as committed:
        with in_tenant(committed.schema_name):
            handbook = b"# Handbook\n\nAnnual leave is 28 days. Refunds take 30 days."
            document_upload(upload=UploadedFile(filename="handbook.md", data=handbook), uploaded_by=None)
        yield committed


def handbook() -> Document:
    return Document.objects.get(title="Handbook")


def test_ingestion_jobs_are_counted_by_state_and_duration(tenant, committed_db):
    before = {
        state: sample("portal_ingestion_jobs_total", state=state, tenant="all") for state in ("succeeded", "failed")
    }
    durations = sample("portal_ingestion_job_seconds_count", state="succeeded")
    with in_tenant(tenant.schema_name):
        ok = document_upload(
            upload=UploadedFile(filename="ok.md", data=b"# Leave\n\nAnnual leave is 28 days."), uploaded_by=None
        )
        bad = document_upload(upload=UploadedFile(filename="bad.pdf", data=b"%PDF-1.7 truncated"), uploaded_by=None)
        ok.refresh_from_db()
        bad.refresh_from_db()
    assert (ok.status, bad.status) == ("succeeded", "failed")
    assert sample("portal_ingestion_jobs_total", state="succeeded", tenant="all") == before["succeeded"] + 1
    assert sample("portal_ingestion_jobs_total", state="failed", tenant="all") == before["failed"] + 1
    assert sample("portal_ingestion_job_seconds_count", state="succeeded") == durations + 1


def test_tenant_labels_only_when_enabled(tenant, committed_db):
    schema = tenant.schema_name
    with override_settings(METRICS_TENANT_LABELS=True), in_tenant(schema):
        document_upload(
            upload=UploadedFile(filename="labelled.md", data=b"# Travel\n\nTrains, not planes."), uploaded_by=None
        )
    assert sample("portal_ingestion_jobs_total", state="succeeded", tenant=schema) == 1


def test_retrieval_legs_and_fused_results_are_measured(tenant, committed_db):
    legs = ("dense", "keyword", "graph")
    before = {leg: sample("portal_retrieval_leg_seconds_count", leg=leg, status="ok") for leg in legs}
    fused_before = sample("portal_retrieval_fused_results_count")
    cached_before = sample("portal_retrieval_requests_total", cached="true")
    with in_tenant(tenant.schema_name):
        user = User.objects.create_user(username=f"reader-{uuid.uuid4().hex[:6]}", password="x" * 16)
        document_access_grant(document=handbook(), principal=user)
        first = retrieve(user=user, query="How many days of annual leave?", k=5)
        second = retrieve(user=user, query="How many days of annual leave?", k=5)
    assert first.legs == {"dense": "ok", "keyword": "ok", "graph": "ok"}
    assert (first.cached, second.cached) == (False, True)
    for leg in legs:
        assert sample("portal_retrieval_leg_seconds_count", leg=leg, status="ok") == before[leg] + 1
    assert sample("portal_retrieval_fused_results_count") == fused_before + 1
    assert sample("portal_retrieval_requests_total", cached="true") == cached_before + 1


def test_permission_change_to_graph_effect_is_measured(tenant, committed_db):
    before = sample("portal_permission_change_effect_seconds_count", store="graph")
    with in_tenant(tenant.schema_name):
        group = Group.objects.create(name=f"Finance-{uuid.uuid4().hex[:6]}")
        document_access_grant(document=handbook(), principal=group)
    # Tasks run in-process here: the graph follows on commit, and the lag is observed once.
    assert sample("portal_permission_change_effect_seconds_count", store="graph") == before + 1
