"""Ingestion (limits, chunking, jobs), request body limits, embeddings, knowledge-graph extraction."""

from __future__ import annotations

from ..environment import env, secret

# --- Ingestion ----------------------------------------------------------------------------------
INGESTION_MAX_UPLOAD_BYTES = env.int("INGESTION_MAX_UPLOAD_BYTES", default=50 * 1024 * 1024)
# Request bodies, bounded by the web server before a byte is read (apps/webserver/request_limits.py):
# any request, as Django's own limit for non-file data; an upload route from a client that sends
# credentials (two files at the largest size, or many smaller ones, per request).
REQUEST_MAX_BODY_BYTES = env.int("REQUEST_MAX_BODY_BYTES", default=2_621_440)  # Django's DATA_UPLOAD_MAX_MEMORY_SIZE
REQUEST_MAX_UPLOAD_BYTES = env.int("REQUEST_MAX_UPLOAD_BYTES", default=2 * INGESTION_MAX_UPLOAD_BYTES + 1024 * 1024)
# Passages indexed per document at most (about 2,500 pages of prose); the rest is left out with a
# warning on the job, so one file cannot flood a tenant's index.
INGESTION_MAX_CHUNKS_PER_DOCUMENT = env.int("INGESTION_MAX_CHUNKS_PER_DOCUMENT", default=10_000)
# Characters of a document's text chunked at most (about 2,500 pages of prose); keeps a worker's
# memory under 1 GB on any accepted file. The rest is left out with the same warning.
INGESTION_MAX_TEXT_CHARS = env.int("INGESTION_MAX_TEXT_CHARS", default=8_000_000)
# Archives (DOCX) are refused when they would expand past this, or by more than the ratio (zip bombs).
INGESTION_MAX_UNCOMPRESSED_BYTES = env.int("INGESTION_MAX_UNCOMPRESSED_BYTES", default=200 * 1024 * 1024)
INGESTION_MAX_COMPRESSION_RATIO = env.int("INGESTION_MAX_COMPRESSION_RATIO", default=100)
INGESTION_MAX_PDF_PAGES = env.int("INGESTION_MAX_PDF_PAGES", default=2000)
# Rows of a table (CSV) and values of a JSON document indexed per file; the rest is left out and the
# job says so ("Indexed with a warning: ...").
INGESTION_MAX_TABLE_ROWS = env.int("INGESTION_MAX_TABLE_ROWS", default=100_000)
INGESTION_MAX_JSON_VALUES = env.int("INGESTION_MAX_JSON_VALUES", default=100_000)
CHUNK_MAX_TOKENS = env.int("CHUNK_MAX_TOKENS", default=256)
CHUNK_OVERLAP_TOKENS = env.int("CHUNK_OVERLAP_TOKENS", default=32)
# Jobs handled by one Celery task: documents are embedded together, so batches stay full.
INGESTION_JOBS_PER_TASK = env.int("INGESTION_JOBS_PER_TASK", default=128)
# Dotted paths of callables (ChunkDraft -> ChunkDraft) applied to every chunk before it is embedded
# and stored, e.g. a deployment's own redaction. None ships: documents are indexed as uploaded.
INGESTION_TEXT_FILTERS: list[str] = []
INGESTION_MAX_ATTEMPTS = env.int("INGESTION_MAX_ATTEMPTS", default=5)
# Reconciliation (apps/ingestion/reconcile.py, every minute): an unfinished job silent this long is
# requeued; a document whose graph sync is still pending this long after indexing is sent again.
INGESTION_STALE_AFTER_SECONDS = env.int("INGESTION_STALE_AFTER_SECONDS", default=180)
GRAPH_STALE_AFTER_SECONDS = env.int("GRAPH_STALE_AFTER_SECONDS", default=900)
INGESTION_RETRY_BACKOFF_SECONDS = env.float("INGESTION_RETRY_BACKOFF_SECONDS", default=2.0)
INGESTION_RETRY_BACKOFF_MAX_SECONDS = env.float("INGESTION_RETRY_BACKOFF_MAX_SECONDS", default=120.0)

# --- Embeddings ---------------------------------------------------------------------------------
EMBEDDER_BACKEND = env.str("EMBEDDER_BACKEND", default="apps.integrations.embeddings.onnx_minilm.OnnxMiniLMEmbedder")
EMBEDDING_DIMENSIONS = 384
EMBEDDING_BATCH_SIZE = env.int("EMBEDDING_BATCH_SIZE", default=32)
# Padded tokens per ONNX run: long chunks go in small batches (faster and far less memory on CPU).
EMBEDDING_BATCH_TOKENS = env.int("EMBEDDING_BATCH_TOKENS", default=512)
EMBEDDING_MAX_TOKENS = env.int("EMBEDDING_MAX_TOKENS", default=256)
EMBEDDING_THREADS = env.int("EMBEDDING_THREADS", default=0)  # 0: onnxruntime decides
EMBEDDING_CACHE_TTL_SECONDS = env.int("EMBEDDING_CACHE_TTL_SECONDS", default=24 * 3600)
# OpenAI-compatible remote embedder (EMBEDDER_BACKEND=apps.integrations.embeddings.remote.OpenAICompatibleEmbedder).
REMOTE_EMBEDDINGS_URL = env.str("REMOTE_EMBEDDINGS_URL", default="")
REMOTE_EMBEDDINGS_API_KEY = secret("REMOTE_EMBEDDINGS_API_KEY", default="")
REMOTE_EMBEDDINGS_MODEL = env.str("REMOTE_EMBEDDINGS_MODEL", default="text-embedding-3-small")
REMOTE_EMBEDDINGS_TIMEOUT = env.float("REMOTE_EMBEDDINGS_TIMEOUT", default=30.0)
# Ask for EMBEDDING_DIMENSIONS-long vectors (text-embedding-3-* would otherwise return 1536).
REMOTE_EMBEDDINGS_SEND_DIMENSIONS = env.bool("REMOTE_EMBEDDINGS_SEND_DIMENSIONS", default=True)

# --- Knowledge graph extraction -----------------------------------------------------------------
ENTITY_EXTRACTOR_BACKEND = env.str("ENTITY_EXTRACTOR_BACKEND", default="")  # empty: LLM if a key is set, else offline
ENTITY_MAX_PER_CHUNK = env.int("ENTITY_MAX_PER_CHUNK", default=12)
# Co-occurrence edges join only a chunk's strongest entities (edges grow with the square).
GRAPH_RELATED_MAX_ENTITIES = env.int("GRAPH_RELATED_MAX_ENTITIES", default=6)
