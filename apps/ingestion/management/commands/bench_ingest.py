"""Benchmark ingestion end to end (Celery worker included) against the raw embedder, in one run.

Prints one JSON line: documents, failed, chunks, seconds, end_to_end_chunks_per_s,
raw_embedder_chunks_per_s (the embedder alone on the same chunk texts), ratio, peak_rss_mb.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import threading
import time
from pathlib import Path

import psutil
from django.conf import settings
from django.core.cache import cache
from django.core.management.base import BaseCommand, CommandError
from django.test import override_settings
from django_tenants.utils import schema_context as in_tenant_schema_only
from tqdm import tqdm

from apps.core.adapters import backend_class
from apps.core.database import current_database_url
from apps.documents.models import Chunk, Document
from apps.ingestion.bulk import corpus_ingest
from apps.ingestion.models import IngestionJob
from apps.ingestion.worker_process import worker_command
from apps.tenants.context import in_tenant
from apps.tenants.models import Tenant
from apps.tenants.services import portal_tenant_provision


class PeakMemory:
    """Polls a process tree's resident memory in a background thread and keeps the peak.

    The tree is listed again only every `relist_every` polls: listing it scans every process of
    the machine (/proc), and at five times a second that took a tenth of a core from the pipeline
    being measured; reading the known processes' memory is cheap.
    """

    def __init__(self, pid: int, interval: float = 0.2, relist_every: int = 10) -> None:
        self.pid, self.interval, self.relist_every, self.peak_bytes = pid, interval, relist_every, 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._poll, daemon=True)

    def __enter__(self) -> PeakMemory:
        self._thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self._stop.set()
        self._thread.join()

    def _poll(self) -> None:
        tree: list[psutil.Process] = []
        polls = 0
        while not self._stop.is_set():
            try:
                if polls % self.relist_every == 0:
                    root = psutil.Process(self.pid)
                    tree = [root, *root.children(recursive=True)]
                self.peak_bytes = max(self.peak_bytes, sum(_rss(process) for process in tree))
            except psutil.Error:
                pass
            polls += 1
            self._stop.wait(self.interval)


def _rss(process: psutil.Process) -> int:
    try:
        return process.memory_info().rss
    except psutil.Error:
        return 0  # a worker child replaced since the tree was listed


class Command(BaseCommand):
    help = "Ingest a BEIR corpus through the real pipeline and a real Celery worker; print throughput JSON."

    def add_arguments(self, parser) -> None:
        parser.add_argument("--tenant", default="bench_ingest", help="schema; recreated empty for the run")
        parser.add_argument("--corpus", required=True, help="corpus.jsonl")
        parser.add_argument("--limit", type=int)
        parser.add_argument("--concurrency", type=int, default=int(os.environ.get("BENCH_WORKER_CONCURRENCY", "2")))
        parser.add_argument("--keep", action="store_true", help="keep the tenant's data afterwards")

    def handle(self, *args, **options) -> None:
        entries = self._entries(Path(options["corpus"]), options["limit"])
        schema = options["tenant"]
        self._fresh_tenant(schema)
        worker = self._start_worker(queues="ingestion", concurrency=options["concurrency"])
        # The graph pool of a deployment, here on the same two cores at a lower OS priority: it
        # takes the CPU the ingestion workers leave idle (database round trips) and catches up after.
        graph_worker = self._start_worker(queues="graph,default", concurrency=1, niceness=10)
        try:
            with in_tenant(schema), PeakMemory(worker.pid) as memory, PeakMemory(graph_worker.pid) as graph_memory:
                started = time.perf_counter()
                with (
                    tqdm(total=len(entries), unit="doc", desc="ingest", disable=None, file=sys.stderr) as bar,
                    override_settings(DEBUG=False),  # as a deployment uploads: no query log in memory
                ):
                    outcomes = corpus_ingest(
                        entries=entries, via_worker=True, batch_size=512, on_progress=bar.update, poll_seconds=1.0
                    )
                seconds = time.perf_counter() - started
                graph_seconds = self._wait_for_graph(started)
            with in_tenant(schema):
                texts = list(Chunk.objects.order_by("pk").values_list("text", flat=True))
                failed = IngestionJob.objects.filter(status=IngestionJob.Status.FAILED).count()
        finally:
            for process in (worker, graph_worker):
                process.terminate()
                process.wait(30)
        raw_per_s = self._raw_embedder_throughput(texts)
        end_to_end = len(texts) / seconds if seconds else 0.0
        report = {
            "documents": len(entries),
            "succeeded": outcomes.get(IngestionJob.Status.SUCCEEDED, 0),
            "failed": failed,
            "chunks": len(texts),
            "seconds": round(seconds, 2),
            # The knowledge graph follows each document after its job succeeds (graph queue and pool).
            "graph_synced_seconds": round(graph_seconds, 2) if graph_seconds is not None else None,
            "end_to_end_chunks_per_s": round(end_to_end, 1),
            "raw_embedder_chunks_per_s": round(raw_per_s, 1),
            "ratio": round(end_to_end / raw_per_s, 3) if raw_per_s else None,
            "peak_rss_mb": round(memory.peak_bytes / 1_048_576, 1),
            "graph_worker_peak_rss_mb": round(graph_memory.peak_bytes / 1_048_576, 1),
            "worker_concurrency": options["concurrency"],
        }
        if not options["keep"]:
            Tenant.objects.get(schema_name=schema).delete(force_drop=True)
        self.stdout.write(json.dumps(report))

    @staticmethod
    def _wait_for_graph(started: float, timeout: float = 3600) -> float | None:
        pending = Document.objects.filter(status=Document.Status.INDEXED).exclude(
            graph_status=Document.GraphStatus.SYNCED
        )
        while pending.exists():
            if time.perf_counter() - started > timeout:
                return None
            time.sleep(0.5)
        return time.perf_counter() - started

    @staticmethod
    def _entries(path: Path, limit: int | None) -> list[dict]:
        if not path.exists():
            raise CommandError(f"{path}: not found")
        with path.open(encoding="utf-8") as handle:
            entries = [json.loads(line) for line in handle if line.strip()]
        return entries[:limit] if limit else entries

    @staticmethod
    def _fresh_tenant(schema: str) -> None:
        existing = Tenant.objects.filter(schema_name=schema).first()
        if existing is not None:
            existing.delete(force_drop=True)
        with in_tenant_schema_only(schema):
            # A warm embedding cache from an earlier run would flatter the pipeline: start cold.
            cache.delete_pattern("*")  # type: ignore[attr-defined]
        portal_tenant_provision(
            schema_name=schema, domain=f"{schema.replace('_', '-')}.localhost", admin_email="bench@example.com"
        )

    @staticmethod
    def _start_worker(*, queues: str, concurrency: int, niceness: int = 0) -> subprocess.Popen:
        env = {
            **os.environ,
            "DJANGO_SETTINGS_MODULE": os.environ.get("DJANGO_SETTINGS_MODULE", "config.settings.local"),
        }
        env["DATABASE_URL"] = current_database_url()
        env.setdefault("EMBEDDING_THREADS", str(max(1, (os.cpu_count() or 2) // concurrency)))
        env.setdefault("MALLOC_ARENA_MAX", "2")  # as the ingestion worker runs in Procfile and compose
        # As a deployment runs it: with DEBUG on, Django keeps every SQL statement and its timing.
        env["DEBUG"] = "false"
        return subprocess.Popen(
            worker_command(queues=queues, concurrency=concurrency, loglevel="WARNING"),
            cwd=settings.BASE_DIR,
            env=env,
            preexec_fn=(lambda: os.nice(niceness)) if niceness else None,
            stdout=sys.stderr,  # stdout carries only the JSON report
        )

    @staticmethod
    def _raw_embedder_throughput(texts: list[str], sample: int = 3000) -> float:
        if not texts:
            return 0.0
        # An evenly spread sample of the same chunk texts keeps the run short and the ratio fair.
        texts = texts[:: max(1, len(texts) // sample)]
        # No cache, and every core: the embedder alone at its best on this machine.
        raw_class = backend_class("EMBEDDER_BACKEND")
        try:
            raw = raw_class(threads=os.cpu_count() or 1)
        except TypeError:  # backends without a thread setting (remote APIs)
            raw = raw_class()
        raw.embed_documents(texts[:32])  # load the model before timing
        started = time.perf_counter()
        for start in range(0, len(texts), 256):
            raw.embed_documents(texts[start : start + 256])
        return len(texts) / (time.perf_counter() - started)
