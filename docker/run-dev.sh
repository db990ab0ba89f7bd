#!/usr/bin/env bash
# `make run`: for each shard a Celery worker (with beat) and a web server (daphne, `manage.py serve`),
# and the directory (HAProxy, started by `make services` on the portal's port) in front of them.
# Shard main's web server runs in the foreground; Ctrl-C stops everything this script started.
#
#   docker/run-dev.sh PORT SHARD...                   e.g. docker/run-dev.sh 8000 main b
#   docker/run-dev.sh --register-only PORT SHARD...   only record the shards' web addresses in the catalogue
#
# With one shard there is no directory: its web server listens on PORT itself.
set -euo pipefail
register_only=""
if [ "${1:-}" = --register-only ]; then register_only=1; shift; fi
port="${1:-8000}"
shift || true
shards=("${@:-main}")
cd "$(dirname "$0")/.."

# Each shard's web server on the ports after the directory's: main on PORT+1, the next on PORT+2, ...
register_shards() {
    local offset=1
    for shard in "${shards[@]}"; do
        PORTAL_SHARD="$shard" .venv/bin/python manage.py register_shard "$shard" \
            --web-url "http://127.0.0.1:$((port + offset))" >/dev/null
        offset=$((offset + 1))
    done
}
if [ -n "$register_only" ]; then
    [ "${#shards[@]}" -eq 1 ] || register_shards
    exit
fi
mkdir -p var/dev
children=()
trap 'kill "${children[@]}" 2>/dev/null; wait 2>/dev/null' EXIT INT TERM

start_worker() {  # shard
    local suffix=""
    [ "$1" = main ] || suffix="-$1"
    PORTAL_SHARD="$1" .venv/bin/celery -A config.celery_app worker -Q default,ingestion,graph --concurrency 2 \
        --loglevel INFO --beat --schedule "var/dev/celerybeat-schedule$suffix" \
        >"var/dev/celery-worker$suffix.log" 2>&1 &
    children+=($!)
    echo "shard $1: celery worker pid $! (log: var/dev/celery-worker$suffix.log)"
}

if [ "${#shards[@]}" -eq 1 ]; then
    start_worker "${shards[0]}"
    PORTAL_SHARD="${shards[0]}" .venv/bin/python manage.py serve --port "$port"
    exit
fi

register_shards
offset=1
for shard in "${shards[@]}"; do
    start_worker "$shard"
    web_port=$((port + offset))
    if [ "$shard" != main ]; then
        PORTAL_SHARD="$shard" .venv/bin/python manage.py serve --port "$web_port" >"var/dev/web-$shard.log" 2>&1 &
        children+=($!)
        echo "shard $shard: web server pid $! on 127.0.0.1:$web_port (log: var/dev/web-$shard.log)"
    fi
    offset=$((offset + 1))
done
# Routes published by any process (a new tenant, a new API key, a move) reach the directory within a second.
.venv/bin/python manage.py directory_sync --watch 1 >var/dev/directory-sync.log 2>&1 &
children+=($!)
echo "directory: http://localhost:$port (HAProxy; routes reloaded by directory_sync, log: var/dev/directory-sync.log)"
PORTAL_SHARD=main .venv/bin/python manage.py serve --port "$((port + 1))"
