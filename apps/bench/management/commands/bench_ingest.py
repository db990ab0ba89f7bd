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

from apps.bench.corpus import corpus_entry_upload, corpus_ingest
from apps.bench.fresh_tenants import evaluation_tenant_fresh
from apps.core.adapters import backend_class
from apps.core.database import current_database_url
from apps.documents.models import Chunk, Document
from apps.ingestion.models import IngestionJob
from apps.ingestion.preparation import chunk_drafts, parsed_upload
from apps.ingestion.worker_process import worker_command
from apps.tenants.context import in_tenant
from apps.tenants.models import Tenant


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


class CpuShares:
    """CPU seconds from now to `seconds()`: of named process trees, of this process (the uploads and
    the polling), of every other program on the machine by name (PostgreSQL, Neo4j's JVM, Redis),
    and idle. The shares say what, besides the embedder, the run spent the cores on."""

    def __init__(self, trees: dict[str, int]) -> None:
        self.trees = trees
        self.machine_started = psutil.cpu_times()
        self.started = self._by_process()

    def seconds(self) -> dict[str, float]:
        ended = self._by_process()
        totals: dict[str, float] = {}
        for key, (name, cpu) in ended.items():
            before = self.started.get(key, (name, 0.0))[1]
            totals[name] = totals.get(name, 0.0) + cpu - before
        machine = psutil.cpu_times()
        busy = _busy(machine) - _busy(self.machine_started)
        # Processes that ended before now (a database connection per task, say) are no longer
        # listed: what the machine spent beyond the listed ones is theirs.
        totals["ended_processes"] = busy - sum(totals.values())
        totals["idle"] = machine.idle - self.machine_started.idle
        return {
            name: round(value, 1) for name, value in sorted(totals.items(), key=lambda item: -item[1]) if value >= 1
        }

    def _by_process(self) -> dict[tuple[int, float], tuple[str, float]]:
        named = {os.getpid(): "uploads"}
        for name, pid in self.trees.items():
            try:
                root = psutil.Process(pid)
                named.update({process.pid: name for process in [root, *root.children(recursive=True)]})
            except psutil.Error:
                continue
        usage = {}
        for process in psutil.process_iter(["name", "cpu_times", "create_time"]):
            times = process.info["cpu_times"]
            if times is None:
                continue
            name = named.get(process.pid) or process.info["name"] or "?"
            usage[(process.pid, process.info["create_time"])] = (name, times.user + times.system)
        return usage


def _busy(times) -> float:
    return sum(times) - times.idle - getattr(times, "iowait", 0.0)


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
        # The baseline is measured before the run on a quiet machine and again after it, on the same
        # chunk texts of an evenly spread sample of documents; the faster of the two counts.
        baseline = RawEmbedderBaseline()
        sample = entries[:: max(1, len(entries) // RAW_SAMPLE_DOCUMENTS)]
        sample_texts = _pipeline_chunk_texts(sample)
        raw_before = baseline.chunks_per_second(sample_texts)
        worker = self._start_worker(name="bench-ingestion", queues="ingestion", concurrency=options["concurrency"])
        # The graph pool of a deployment, here on the same two cores at a lower OS priority: it
        # takes the CPU the ingestion workers leave idle (database round trips) and catches up after.
        graph_worker = self._start_worker(name="bench-graph", queues="graph,default", concurrency=1, niceness=10)
        try:
            # A deployment's workers are up before files arrive: their start-up is not ingestion time.
            self._wait_until_ready({"bench-ingestion": worker, "bench-graph": graph_worker})
            with in_tenant(schema), PeakMemory(worker.pid) as memory, PeakMemory(graph_worker.pid) as graph_memory:
                cpu = CpuShares({"ingestion_worker": worker.pid, "graph_worker": graph_worker.pid})
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
                cpu_seconds = cpu.seconds()
            with in_tenant(schema):
                chunk_count = Chunk.objects.count()
                stored_sample_texts = _stored_chunk_texts(sample)
                failed = IngestionJob.objects.filter(status=IngestionJob.Status.FAILED).count()
        finally:
            for process in (worker, graph_worker):
                process.terminate()
                process.wait(30)
        if stored_sample_texts != sample_texts:
            self.stderr.write("warning: the stored chunks of the sample differ from the pipeline's chunking of it")
        raw_after = baseline.chunks_per_second(stored_sample_texts)
        raw_per_s = max(raw_before, raw_after)
        end_to_end = chunk_count / seconds if seconds else 0.0
        report = {
            "documents": len(entries),
            "succeeded": outcomes.get(IngestionJob.Status.SUCCEEDED, 0),
            "failed": failed,
            "chunks": chunk_count,
            "seconds": round(seconds, 2),
            # The knowledge graph follows each document after its job succeeds (graph queue and pool).
            "graph_synced_seconds": round(graph_seconds, 2) if graph_seconds is not None else None,
            "end_to_end_chunks_per_s": round(end_to_end, 1),
            "raw_embedder_chunks_per_s": round(raw_per_s, 1),
            "raw_embedder_before_after": [round(raw_before, 1), round(raw_after, 1)],
            "raw_sample_chunks": len(sample_texts),
            "ratio": round(end_to_end / raw_per_s, 3) if raw_per_s else None,
            "peak_rss_mb": round(memory.peak_bytes / 1_048_576, 1),
            "graph_worker_peak_rss_mb": round(graph_memory.peak_bytes / 1_048_576, 1),
            "worker_concurrency": options["concurrency"],
            # Where the two cores went while ingesting (CPU seconds, whole machine; idle included).
            "cpu_seconds": cpu_seconds,
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
        with in_tenant_schema_only(schema):
            # A warm embedding cache from an earlier run would flatter the pipeline: start cold.
            cache.delete_pattern("*")  # type: ignore[attr-defined]
        evaluation_tenant_fresh(schema=schema, admin_email="bench@example.com")

    @staticmethod
    def _wait_until_ready(workers: dict[str, subprocess.Popen], timeout: float = 120) -> None:
        """Until every worker answers a control ping (its pool is started and it consumes)."""
        from config.celery_app import app

        deadline = time.monotonic() + timeout
        waiting = set(workers)
        while waiting:
            for name, process in workers.items():
                if process.poll() is not None:
                    raise CommandError(f"the {name} worker exited with status {process.returncode} before it was ready")
            if time.monotonic() > deadline:
                raise CommandError(f"workers not ready after {timeout:.0f}s: {', '.join(sorted(waiting))}")
            for reply in app.control.ping(timeout=1.0) or []:
                waiting -= {nodename.split("@", 1)[0] for nodename in reply}

    @staticmethod
    def _start_worker(*, name: str, queues: str, concurrency: int, niceness: int = 0) -> subprocess.Popen:
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
            [*worker_command(queues=queues, concurrency=concurrency, loglevel="WARNING"), "-n", f"{name}@%h"],
            cwd=settings.BASE_DIR,
            env=env,
            preexec_fn=(lambda: os.nice(niceness)) if niceness else None,
            stdout=sys.stderr,  # stdout carries only the JSON report
        )


# About 1,500 SciFact chunks: two passes take about a minute on two cores.
RAW_SAMPLE_DOCUMENTS = 750


class RawEmbedderBaseline:
    """The embedder alone at its best on this machine: no cache, every core, a quiet machine, the
    faster of two passes, in 256-text calls as a bulk caller would make them."""

    def __init__(self, passes: int = 2) -> None:
        raw_class = backend_class("EMBEDDER_BACKEND")
        try:
            self.embedder = raw_class(threads=os.cpu_count() or 1)
        except TypeError:  # backends without a thread setting (remote APIs)
            self.embedder = raw_class()
        self.passes = passes

    def chunks_per_second(self, texts: list[str]) -> float:
        if not texts:
            return 0.0
        self.embedder.embed_documents(texts[:32])  # the model is loaded before timing
        # PostgreSQL (autovacuum after a bulk insert) and Neo4j (checkpoints) keep working for a while
        # after the last job: measured then, the baseline would be slowed and the ratio flattered.
        _wait_for_quiet_machine()
        best = 0.0
        for _ in range(self.passes):
            started = time.perf_counter()
            for start in range(0, len(texts), 256):
                self.embedder.embed_documents(texts[start : start + 256])
            best = max(best, len(texts) / (time.perf_counter() - started))
        return best


def _wait_for_quiet_machine(busy_percent: float = 10.0, timeout: float = 120.0) -> None:
    """Until the whole machine's CPU use over one second falls below `busy_percent` (or the timeout)."""
    deadline = time.monotonic() + timeout
    while psutil.cpu_percent(interval=1.0) >= busy_percent and time.monotonic() < deadline:
        pass


def _pipeline_chunk_texts(entries: list[dict]) -> list[str]:
    """The chunk texts ingestion will store for these corpus entries, chunked here by its own code."""
    texts = []
    for entry in entries:
        upload = corpus_entry_upload(entry)
        parsed = parsed_upload(
            data=upload.data, filename=upload.filename, declared_media_type=upload.declared_media_type
        )
        texts += [draft.text for draft in chunk_drafts(parsed)]
    return texts


def _stored_chunk_texts(entries: list[dict]) -> list[str]:
    """The entries' chunk texts as stored, in entry then chunk order."""
    by_document: dict[str | None, list[str]] = {}
    rows = Chunk.objects.filter(document__external_id__in=[str(entry["_id"]) for entry in entries])
    for external_id, text in rows.order_by("ordinal").values_list("document__external_id", "text"):
        by_document.setdefault(external_id, []).append(text)
    return [text for entry in entries for text in by_document.get(str(entry["_id"]), [])]
