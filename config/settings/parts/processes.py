"""Processes: the web server and its health checks, Celery workers and beat."""

from __future__ import annotations

from celery.schedules import crontab

from ..environment import env
from .data_stores import REDIS_URL

# --- Health -------------------------------------------------------------------------------------
# Critical dependencies make /health/ready 503 and stop a production start; optional ones only
# mark the portal degraded (answers still work without cache or graph).
HEALTH_CRITICAL_CHECKS = ["postgres", "tenant_keys"]
HEALTH_OPTIONAL_CHECKS = ["redis", "neo4j"]
# Graceful shutdown of the web process (`manage.py serve`): on SIGTERM readiness turns 503, and
# in-flight requests and streams get up to SHUTDOWN_DRAIN_SECONDS (keep it below the orchestrator's
# grace period, e.g. compose stop_grace_period). SHUTDOWN_GRACE_SECONDS keeps serving at least that
# long, for load balancers that notice the failed readiness late.
SHUTDOWN_DRAIN_SECONDS = env.float("SHUTDOWN_DRAIN_SECONDS", default=25.0)
SHUTDOWN_GRACE_SECONDS = env.float("SHUTDOWN_GRACE_SECONDS", default=0.0)
# `manage.py serve` runs this many web processes on one socket: one process runs Python on one
# core at a time, so use about one per core (apps/webserver/workers.py).
WEB_WORKERS = env.int("WEB_WORKERS", default=2)
WEB_LISTEN_BACKLOG = env.int("WEB_LISTEN_BACKLOG", default=1024)
SHUTDOWN_APPLICATION_CLOSE_SECONDS = env.float("SHUTDOWN_APPLICATION_CLOSE_SECONDS", default=30.0)

# --- Celery -------------------------------------------------------------------------------------
CELERY_BROKER_URL = REDIS_URL
# No result backend: nothing reads a task's return value (people follow an upload through its
# IngestionJob row), and a shared results table would hold every tenant's task arguments.
CELERY_TASK_DEFAULT_QUEUE = "default"
# Graph enrichment has its own queue and pool: documents are searchable (dense + keyword) as soon
# as their ingestion job commits, and entity extraction never competes with embedding for a core.
CELERY_TASK_ROUTES = {
    "apps.ingestion.tasks.ingest_jobs": {"queue": "ingestion"},
    "apps.ingestion.tasks.sync_documents_graph": {"queue": "graph"},
}
# A task is acknowledged only after it ran, so a killed worker's task goes to another worker.
CELERY_TASK_ACKS_LATE = True
CELERY_TASK_REJECT_ON_WORKER_LOST = True
CELERY_WORKER_PREFETCH_MULTIPLIER = 1
CELERY_BROKER_TRANSPORT_OPTIONS = {
    "visibility_timeout": env.int("CELERY_VISIBILITY_TIMEOUT", default=3600),
    # How often a worker looks for messages a dead worker took and never acknowledged.
    "unacked_restore_interval": env.int("CELERY_UNACKED_RESTORE_INTERVAL", default=10),
    "unacked_restore_throttle": env.int("CELERY_UNACKED_RESTORE_THROTTLE", default=10),
}
# A second SIGTERM (or SIGQUIT) is a cold shutdown: running tasks still get this long, then they
# are handed back to the broker instead of being lost.
CELERY_WORKER_SOFT_SHUTDOWN_TIMEOUT = env.float("CELERY_WORKER_SOFT_SHUTDOWN_TIMEOUT", default=20.0)
CELERY_WORKER_HIJACK_ROOT_LOGGER = False
# Survives a broker restart with tasks in flight (Celery 5.7 exits there: apps/core/broker_consumer.py).
CELERY_WORKER_CONSUMER = "apps.core.broker_consumer:BrokerLossTolerantConsumer"
# A task running when the broker goes keeps running: its work commits; the broker redelivers its
# unacknowledged message later, and the job's state makes that rerun a no-op.
CELERY_WORKER_CANCEL_LONG_RUNNING_TASKS_ON_CONNECTION_LOSS = False
CELERY_BROKER_CONNECTION_RETRY_ON_STARTUP = True
CELERY_TASK_SERIALIZER = "json"
CELERY_ACCEPT_CONTENT = ["json"]
CELERY_TIMEZONE = "UTC"
# Periodic jobs (`celery -A config.celery_app beat`): add entries, never replace the dict.
CELERY_BEAT_SCHEDULE = {
    # Nothing stuck: stalled ingestion jobs requeued, lagging graph syncs sent again (docs/ingestion.md).
    "reconcile-ingestion": {
        "task": "apps.ingestion.tasks.reconcile_ingestion_all_tenants",
        "schedule": env.float("INGESTION_RECONCILE_EVERY_SECONDS", default=60.0),
    },
    # Retention: expired query history, feedback and audit data, every tenant (docs/compliance.md).
    "purge-expired-data": {
        "task": "apps.feedback.tasks.purge_expired_all_tenants",
        "schedule": crontab(hour=env.int("RETENTION_PURGE_HOUR_UTC", default=3), minute=17),
    },
    # Backups: every tenant's schema and graph, daily; older ones pruned (docs/operations.md).
    "backup-tenants": {
        "task": "apps.compliance.tasks.backup_all_tenants",
        "schedule": crontab(hour=env.int("BACKUP_HOUR_UTC", default=2), minute=7),
    },
}

# Production turns this on: web and worker processes refuse to start without their critical
# dependencies (see apps/health/startup.py).
FAIL_FAST_ON_STARTUP = False
