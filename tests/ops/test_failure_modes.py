"""Roadmap 8.3: dependencies really stopped (throwaway instances, never the shared ones).

| scenario            | expected                                                                    |
| Neo4j down          | retrieval answers from dense + keyword, graph leg reported, ready degraded   |
| Redis down          | retrieval works without cache, ready degraded, caching resumes              |
| PostgreSQL down     | /health/ready 503, a tenant request gets a clean 503, never a 500            |
| worker SIGKILLed    | the job is redelivered to another worker, completes once, no duplicate chunks |

Neo4j and Redis rows run retrieval in this process against the stack's Neo4j / Redis (settings
overridden) and the shared test database; the PostgreSQL row talks to the stack's own portal
process (daphne) on its own database. The LLM-provider row lives with the answers tests.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import tempfile
import time
import urllib.error
import urllib.request
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import pytest
from django.conf import settings
from django.test import Client, override_settings

from apps.accounts.models import User
from apps.documents.models import Chunk, Document
from apps.ingestion.models import IngestionJob
from apps.ingestion.services import UploadedFile, document_upload
from apps.retrieval.search import RetrievalResult, retrieve
from apps.tenants.context import in_tenant
from apps.tenants.models import Tenant
from tests.support.committed import committed_tenant
from tests.support.fake_embeddings_server import FakeEmbeddingsServer, Reply
from tests.support.live_server import LiveStack

from .workers import running_worker, wait_for

pytestmark = [pytest.mark.integration, pytest.mark.slow]

STACK_TENANT = "opsfail"
STACK_HOST = "opsfail.localhost"


@pytest.fixture(scope="module")
def stack() -> Iterator[LiveStack]:
    # Not under pytest's temporary root: every pytest session on the machine resets that to mode
    # 0700, and PostgreSQL (run as its own system user when we are root) would lose its data
    # directory in the middle of the test.
    home = Path(tempfile.mkdtemp(prefix="portal-failure-stack-"))
    home.chmod(0o755)
    live = LiveStack(home=home)
    try:
        live.start()
        live.manage("create_portal_tenant", STACK_TENANT, "--domain", STACK_HOST, "--admin-email", "ops@example.com")
        yield live
    finally:
        live.stop()
        shutil.rmtree(home, ignore_errors=True)


@contextmanager
def stack_graph_and_cache(stack: LiveStack) -> Iterator[None]:
    """This process uses the stack's Neo4j and Redis (the shared test database stays)."""
    redis_url = stack.services["redis"].url()
    caches = {"default": {**settings.CACHES["default"], "LOCATION": redis_url}}
    with override_settings(
        NEO4J_URI=stack.services["neo4j"].url(), NEO4J_PASSWORD="", REDIS_URL=redis_url, CACHES=caches
    ):
        yield


@dataclass
class Corpus:
    tenant: Tenant
    reader: User


@pytest.fixture(scope="module")
def corpus(stack, django_db_setup, django_db_blocker) -> Iterator[Corpus]:
    with django_db_blocker.unblock(), stack_graph_and_cache(stack), committed_tenant("ops_fail") as tenant:
        with in_tenant(tenant.schema_name):
            text = b"# Expenses\n\nNorthwind travel expenses are refunded by Finance within 14 days."
            # Tasks run in-process: indexed, then synced into the stack's Neo4j, before this returns.
            document_upload(
                upload=UploadedFile(filename="expenses.md", data=text), uploaded_by=None, visible_to_tenant=True
            )
            reader = User.objects.create_user(username="reader", password="x" * 16)
        warm = Corpus(tenant=tenant, reader=reader)
        # A fresh Neo4j plans its first queries slowly: warm it up so only stopped services time out.
        with override_settings(RETRIEVAL_LEG_TIMEOUT_SECONDS=60):
            assert ask(warm, fresh_question()).legs["graph"] == "ok"
        yield warm


def ask(corpus: Corpus, question: str) -> RetrievalResult:
    with in_tenant(corpus.tenant.schema_name):
        return retrieve(user=corpus.reader, query=question, k=5)


def readiness() -> tuple[int, dict]:
    response = Client().get("/health/ready")
    return response.status_code, response.json()


def fresh_question() -> str:
    # A new question each time: a cached answer would hide what a stopped service does.
    return f"Who refunds Northwind travel expenses? ({uuid.uuid4().hex[:6]})"


def test_neo4j_down_answers_from_dense_and_keyword_then_recovers(stack, corpus, committed_db):
    with stack_graph_and_cache(stack):
        assert ask(corpus, fresh_question()).legs == {"dense": "ok", "keyword": "ok", "graph": "ok"}
        stack.services["neo4j"].stop()
        try:
            result = ask(corpus, fresh_question())
            assert result.legs["graph"] in {"error", "timeout"}
            assert (result.legs["dense"], result.legs["keyword"]) == ("ok", "ok")
            assert result.chunks
            assert "Finance" in result.chunks[0].text
            status, body = readiness()
            assert (status, body["status"], body["checks"]["neo4j"]) == (200, "degraded", False)
        finally:
            stack.services["neo4j"].start()
        # Nobody restarts the portal: the driver reconnects by itself.
        wait_for(lambda: ask(corpus, fresh_question()).legs["graph"] == "ok", what="the graph leg to recover")
        assert readiness()[1]["status"] == "ok"


def test_redis_down_retrieves_without_cache_then_caching_resumes(stack, corpus, committed_db):
    question = fresh_question()
    with stack_graph_and_cache(stack), override_settings(CELERY_BROKER_URL=stack.services["redis"].url()):
        assert [ask(corpus, question).cached for _ in range(2)] == [False, True]
        stack.services["redis"].stop()
        try:
            down_question = fresh_question()
            results = [ask(corpus, down_question) for _ in range(2)]
            assert [result.cached for result in results] == [False, False]
            assert all(result.chunks and result.legs["dense"] == "ok" for result in results)
            status, body = readiness()
            assert (status, body["status"], body["checks"]["redis"]) == (200, "degraded", False)
            # The scrape still works; the queue depth is simply not reported.
            with override_settings(METRICS_BEARER_TOKEN="t" * 32):
                scrape = Client().get("/metrics", HTTP_AUTHORIZATION="Bearer " + "t" * 32)
            assert scrape.status_code == 200
            assert b"portal_celery_queue_depth{" not in scrape.content
        finally:
            stack.services["redis"].start()
        recovered = fresh_question()

        def cached_again() -> bool:
            ask(corpus, recovered)
            return ask(corpus, recovered).cached

        wait_for(cached_again, what="the cache to work again")
        assert readiness()[1]["status"] == "ok"


def tenant_request(stack: LiveStack, path: str, *, accept: str, **headers: str) -> tuple[int, str, bytes]:
    request = urllib.request.Request(
        f"http://127.0.0.1:{stack.port}{path}", headers={"Host": STACK_HOST, "Accept": accept, **headers}
    )
    try:
        with urllib.request.urlopen(request, timeout=30) as response:  # noqa: S310 - loopback
            return response.status, response.headers.get("Content-Type", ""), response.read()
    except urllib.error.HTTPError as error:
        return error.code, error.headers.get("Content-Type", ""), error.read()


def test_postgres_down_is_a_clean_503_then_recovers(stack):
    # Requests that must read the database: a session behind a cookie, an API key never seen before.
    # (The tenant of the host alone may come from the process cache, and a login form needs no more.)
    with_session = {"Cookie": f"sessionid={uuid.uuid4().hex}"}
    unknown_key = {"X-API-Key": "kp_000000000000_" + "a" * 43}
    assert tenant_request(stack, "/admin/login/", accept="text/html", **with_session)[0] == 200
    stack.services["postgres"].stop()
    try:
        assert stack.get_json("/health/ready")[0] == 503
        status, content_type, body = tenant_request(stack, "/admin/login/", accept="text/html", **with_session)
        assert (status, content_type.split(";")[0]) == (503, "text/html")
        assert b"temporarily unavailable" in body
        for path in ("/api/v1/documents", "/api/v1/query"):
            began = time.monotonic()
            status, content_type, body = tenant_request(stack, path, accept="application/json", **unknown_key)
            waited = time.monotonic() - began
            assert (status, content_type) == (503, "application/json")
            assert json.loads(body)["error"]["code"] == "service_unavailable"
            # Answered while a readiness probe would still be waiting, not after the pool's 10 s.
            assert waited < settings.DATABASE_POOL_OPTIONS["timeout"] / 2, waited
    finally:
        stack.services["postgres"].start()
    stack.wait_for(lambda: stack.get_json("/health/ready")[0] == 200, what="postgres to recover")
    assert tenant_request(stack, "/admin/login/", accept="text/html")[0] == 200


def test_a_worker_killed_mid_ingest_is_replaced_and_nothing_is_duplicated(committed_db, broker_mode, tmp_path):
    text = f"# Safety {uuid.uuid4().hex}\n\n" + " ".join(f"Rule {n}: keep exit {n} clear." for n in range(60))
    redelivery = {
        "CELERY_VISIBILITY_TIMEOUT": "2",
        "CELERY_UNACKED_RESTORE_INTERVAL": "1",
        "CELERY_UNACKED_RESTORE_THROTTLE": "1",
    }
    with (
        committed_tenant("ops_kill") as tenant,
        in_tenant(tenant.schema_name),
        FakeEmbeddingsServer(script=[Reply(delay_seconds=60)]) as embeddings,
    ):
        env = {
            "EMBEDDER_BACKEND": "apps.integrations.embeddings.remote.OpenAICompatibleEmbedder",
            "REMOTE_EMBEDDINGS_URL": embeddings.url,
        }
        with running_worker(log_path=tmp_path / "doomed.log", queues="ingestion", env=env) as doomed:
            job = document_upload(upload=UploadedFile(filename="safety.md", data=text.encode()), uploaded_by=None)
            wait_for(lambda: embeddings.requests, what="the first worker to start embedding")
            os.killpg(doomed.pid, signal.SIGKILL)  # the worker and its pool, mid-task, no goodbye
            doomed.wait(10)
        job.refresh_from_db()
        assert (job.status, job.attempts) == (IngestionJob.Status.RUNNING, 1)
        replacement_env = {**env, **redelivery}
        with running_worker(log_path=tmp_path / "replacement.log", queues="ingestion,graph", env=replacement_env):
            wait_for(lambda: IngestionJob.objects.get(pk=job.pk).is_finished, what="the redelivered job")
            job.refresh_from_db()
            assert (job.status, job.attempts) == (IngestionJob.Status.SUCCEEDED, 2)
            chunks = Chunk.objects.filter(document_id=job.document_id)
            ordinals = list(chunks.values_list("ordinal", flat=True))
            assert len(ordinals) == len(set(ordinals)) == job.chunk_count > 0
            assert Document.objects.get(pk=job.document_id).status == Document.Status.INDEXED
            wait_for(
                lambda: Document.objects.get(pk=job.document_id).graph_status == Document.GraphStatus.SYNCED,
                what="graph sync before the tenant is dropped",
            )
