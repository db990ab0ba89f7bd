#!/usr/bin/env bash
# `make run`: a Celery worker in the background and the web server (daphne, `manage.py serve`) in the foreground; Ctrl-C stops both.
set -euo pipefail
port="${1:-8000}"
cd "$(dirname "$0")/.."
mkdir -p var/dev
.venv/bin/celery -A config.celery_app worker -Q default,ingestion,graph --concurrency 2 --loglevel INFO \
    --beat --schedule var/dev/celerybeat-schedule \
    >var/dev/celery-worker.log 2>&1 &
worker=$!
trap 'kill $worker 2>/dev/null; wait $worker 2>/dev/null' EXIT INT TERM
echo "celery worker pid $worker (log: var/dev/celery-worker.log)"
.venv/bin/python manage.py serve --port "$port"
