#!/usr/bin/env bash
# Build the embedded Neo4j launcher once: target/neo4j-embedded.jar + target/lib/*.jar.
# Re-runs Maven only if pom.xml or a source file is newer than the jar (FORCE=1 to force).
# Needs network (Maven Central) on the first build only; running needs none.
set -euo pipefail
cd "$(dirname "$0")"

JAR=target/neo4j-embedded.jar
up_to_date() {
  [[ -f "$JAR" && -d target/lib && "${FORCE:-0}" != 1 ]] \
    && [[ -z "$(find pom.xml src -newer "$JAR" -print -quit)" ]]
}
up_to_date && exit 0

command -v mvn >/dev/null || { echo "build.sh: mvn not found on PATH" >&2; exit 1; }
# Parallel callers (e.g. several test workers) must not run Maven in the same dir at once.
mkdir -p target
exec 9>target/.build.lock
flock 9
up_to_date && exit 0

# Dependencies only change with pom.xml: then drop old jars so target/lib/* never mixes
# versions. Source-only rebuilds leave lib alone (running instances keep using it).
if [[ ! -f "$JAR" || pom.xml -nt "$JAR" ]]; then rm -rf target/lib; fi
if ! mvn -q -B -DskipTests package; then
  echo "build.sh: maven build FAILED in $(pwd)" >&2
  exit 1
fi
[[ -f "$JAR" && -d target/lib ]] || { echo "build.sh: $JAR or target/lib missing after build" >&2; exit 1; }
# Maven may leave the jar's mtime untouched if nothing changed; keep the up-to-date check honest.
touch "$JAR"
