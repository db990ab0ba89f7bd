"""Real Celery workers: redacted JSON logs that keep the request and trace of the caller, a
protected /metrics that sums the pool processes, and SIGTERM letting the running task finish."""

from __future__ import annotations

import json
import os
import signal
import urllib.error
import urllib.request
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from django.contrib.auth.models import Group
from prometheus_client.parser import text_string_to_metric_families

from apps.core.observability.context import request_id_bound
from apps.core.observability.tracing import tracer
from apps.documents.models import Document
from apps.documents.services import document_access_grant
from apps.ingestion.models import IngestionJob
from apps.ingestion.services import UploadedFile, document_upload
from apps.tenants.context import in_tenant
from apps.tenants.models import Tenant
from tests.support.committed import committed_tenant
from tests.support.embedded import devservices
from tests.support.fake_embeddings_server import FakeEmbeddingsServer, Reply

from .secrets import SECRET_VALUES, leaked
from .tasks import fail_with_secrets
from .workers import running_worker, wait_for

pytestmark = [pytest.mark.integration, pytest.mark.slow]

TOKEN = "worker-metrics-" + "t" * 24


@pytest.fixture(scope="module")
def tenant(django_db_setup, django_db_blocker) -> Iterator[Tenant]:
    with django_db_blocker.unblock(), committed_tenant("ops_worker") as committed:
        yield committed


@pytest.fixture(scope="module")
def graph_worker(tmp_path_factory, tenant) -> Iterator[tuple[Path, int]]:
    """Takes the graph and default queues (never ingestion, which each test runs its own way)."""
    home = tmp_path_factory.mktemp("graph-worker")
    (home / "prometheus").mkdir()
    port = devservices.free_loopback_port()
    env = {
        "METRICS_WORKER_PORT": str(port),
        "METRICS_WORKER_ADDRESS": "127.0.0.1",
        "METRICS_BEARER_TOKEN": TOKEN,
        "PROMETHEUS_MULTIPROC_DIR": str(home / "prometheus"),
    }
    with running_worker(log_path=home / "worker.log", env=env, queues="graph,default", include="tests.ops.tasks"):
        yield home / "worker.log", port


def json_lines(path: Path) -> list[dict]:
    lines = []
    for raw in path.read_text(errors="replace").splitlines():
        if raw.startswith("{"):
            try:
                lines.append(json.loads(raw))
            except ValueError:
                continue
    return lines


def test_a_failing_task_logs_redacted_with_the_callers_request_and_trace(graph_worker, broker_mode):
    log_path, _ = graph_worker
    credentials = {"api_key": SECRET_VALUES["openai_key"], "password": SECRET_VALUES["password"]}
    with request_id_bound("req-worker-1"), tracer().start_as_current_span("test.request") as root:
        result = fail_with_secrets.apply_async(kwargs=credentials)

    def failure_logged() -> list[dict]:
        return [
            line
            for line in json_lines(log_path)
            if line.get("level") == "ERROR" and result.id in line.get("message", "")
        ]

    wait_for(lambda: bool(failure_logged()), what="the task failure in the worker log", log_path=log_path)
    output = log_path.read_text(errors="replace")
    assert leaked(output) == []
    (failure,) = failure_logged()
    assert "RuntimeError: upstream refused the call" in failure["exc_info"]
    assert failure["request_id"] == "req-worker-1"
    assert failure["trace_id"] == format(root.get_span_context().trace_id, "032x")
    (warning,) = [line for line in json_lines(log_path) if line.get("message", "").startswith("about to fail")]
    assert warning["request_id"] == "req-worker-1"


def scrape(port: int, token: str | None) -> tuple[int, str]:
    request = urllib.request.Request(f"http://127.0.0.1:{port}/metrics")
    if token:
        request.add_header("Authorization", f"Bearer {token}")
    try:
        with urllib.request.urlopen(request, timeout=10) as response:  # noqa: S310 - loopback
            return response.status, response.read().decode()
    except urllib.error.HTTPError as error:
        return error.code, ""


def lag_observations(body: str) -> float:
    for family in text_string_to_metric_families(body):
        for sample in family.samples:
            if sample.name == "portal_permission_change_effect_seconds_count" and sample.labels["store"] == "graph":
                assert sample.labels["environment"] == "test"
                return sample.value
    return 0.0


def test_worker_metrics_are_protected_and_include_the_pool_processes(graph_worker, tenant, committed_db, broker_mode):
    _, port = graph_worker
    assert scrape(port, None)[0] == 403
    assert scrape(port, "wrong")[0] == 403
    status, body = scrape(port, TOKEN)
    assert status == 200
    before = lag_observations(body)
    with in_tenant(tenant.schema_name):
        # A document with no chunks is enough: the ACL task runs on the worker's pool process.
        document = Document.objects.create(title="policy", source="policy.md")
        document_access_grant(document=document, principal=Group.objects.create(name=f"g-{uuid.uuid4().hex[:6]}"))
    wait_for(lambda: lag_observations(scrape(port, TOKEN)[1]) == before + 1, what="the lag observed by the pool")


def test_sigterm_lets_the_running_ingestion_finish(graph_worker, tenant, committed_db, broker_mode, tmp_path):
    log_path = tmp_path / "ingestion-worker.log"
    text = f"# Notice {uuid.uuid4().hex}\n\nThe office closes at six on Fridays."
    with (
        FakeEmbeddingsServer(script=[Reply(delay_seconds=4)]) as embeddings,
        running_worker(log_path=log_path, queues="ingestion", env=slow_embedder_env(embeddings.url)) as worker,
        in_tenant(tenant.schema_name),
    ):
        job = document_upload(upload=UploadedFile(filename="notice.md", data=text.encode()), uploaded_by=None)
        wait_for(lambda: embeddings.requests, what="the worker to start embedding", log_path=log_path)
        os.kill(worker.pid, signal.SIGTERM)  # what `docker stop` sends to the container's main process
        assert worker.wait(60) == 0
        job.refresh_from_db()
        assert job.status == IngestionJob.Status.SUCCEEDED
        assert job.attempts == 1
        assert "Warm shutdown" in log_path.read_text(errors="replace")
        # Let the graph worker take the follow-up task while the tenant still exists.
        wait_for(
            lambda: Document.objects.get(pk=job.document_id).graph_status == Document.GraphStatus.SYNCED,
            what="graph sync",
        )


def slow_embedder_env(url: str) -> dict[str, str]:
    return {
        "EMBEDDER_BACKEND": "apps.integrations.embeddings.remote.OpenAICompatibleEmbedder",
        "REMOTE_EMBEDDINGS_URL": url,
    }
