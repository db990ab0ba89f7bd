#!/bin/sh
# One image, several processes (Procfile names). Each `exec`s, so the process gets SIGTERM itself.
#
#   web               the portal (HTTP + WebSockets); drains in-flight requests on SIGTERM
#   release           migrations for the public and every tenant schema: run once per deploy,
#                     before new web and worker containers start, never from a web process
#   worker-ingestion  Celery: uploads (CPU-heavy, scaled on portal_celery_queue_depth{queue="ingestion"})
#   worker-graph      Celery: knowledge-graph enrichment
#   worker-default    Celery: everything else (ACL sync, retention, ...)
#   beat              Celery beat (exactly one)
#   anything else     run as given (e.g. `python manage.py create_portal_tenant ...`)
set -eu

celery_worker() {
    queue="$1"
    concurrency="$2"
    # Prefork pool processes write their metrics here and /metrics sums them; a restarted
    # container must not inherit stale files.
    export PROMETHEUS_MULTIPROC_DIR="${PROMETHEUS_MULTIPROC_DIR:-/tmp/prometheus}"
    rm -rf "${PROMETHEUS_MULTIPROC_DIR:?}"
    mkdir -p "$PROMETHEUS_MULTIPROC_DIR"
    exec celery -A config.celery_app worker -Q "$queue" --concurrency "$concurrency" \
        --hostname "${queue}@%h" --loglevel "${LOG_LEVEL:-INFO}" --without-gossip --without-mingle
}

command="${1:-web}"
case "$command" in
    web)
        exec python manage.py serve --bind 0.0.0.0 --port "${PORT:-8000}"
        ;;
    release)
        exec python manage.py migrate_schemas --noinput
        ;;
    worker-ingestion)
        celery_worker ingestion "${INGESTION_CONCURRENCY:-2}"
        ;;
    worker-graph)
        celery_worker graph "${GRAPH_CONCURRENCY:-1}"
        ;;
    worker-default)
        celery_worker default "${DEFAULT_CONCURRENCY:-2}"
        ;;
    beat)
        exec celery -A config.celery_app beat --loglevel "${LOG_LEVEL:-INFO}" --schedule /tmp/celerybeat-schedule
        ;;
    *)
        exec "$@"
        ;;
esac
