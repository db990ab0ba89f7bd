#!/bin/sh
# Create the secret files docker/compose.yaml mounts (once; existing files are kept).
#   ANTHROPIC_API_KEY=sk-ant-... sh docker/make-secrets.sh     # optional: answers with Claude
set -eu
dir="$(dirname "$0")/secrets"
mkdir -p "$dir"
chmod 700 "$dir"
random() { head -c 48 /dev/urandom | base64 | tr -dc 'A-Za-z0-9' | head -c "${1:-40}"; }
write_once() { [ -e "$dir/$1" ] || printf '%s' "$2" >"$dir/$1"; }

write_once postgres_password "$(random)"
write_once redis_password "$(random)"
write_once neo4j_password "$(random)"
write_once secret_key "$(random 64)"
# The key-encryption key of every tenant's data keys: back it up apart from the database; losing it
# loses every tenant's documents (docs/compliance.md, "Encryption at rest").
write_once tenant_kek "$(head -c 32 /dev/urandom | base64)"
write_once metrics_token "$(random)"
write_once anthropic_api_key "${ANTHROPIC_API_KEY:-}"
# Derived from the passwords above; rewritten every time so they always match.
printf 'neo4j/%s' "$(cat "$dir/neo4j_password")" >"$dir/neo4j_auth"
printf 'postgres://portal:%s@postgres:5432/portal' "$(cat "$dir/postgres_password")" >"$dir/database_url"
printf 'redis://:%s@redis:6379/0' "$(cat "$dir/redis_password")" >"$dir/redis_url"
# Compose bind-mounts these files as they are: the container user must be able to read them.
# The directory itself stays private to its owner.
chmod 644 "$dir"/*
echo "secrets in $dir"
