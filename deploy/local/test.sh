#!/usr/bin/env bash
# `make test`: installs what is missing, builds everything (tests included), starts a
# PostgreSQL and a Redis of its own on free ports in a fresh temporary directory (never
# those of `make run`), runs every test with ctest, and removes it all afterwards, also
# when a test fails. Exits with ctest's status. Arguments go to ctest
# (e.g. `deploy/local/test.sh -R kustomize`; `make test ARGS='-R kustomize'`).
#
# The tests find what they need in the environment:
#   TEST_PG_URI         postgresql://postgres@127.0.0.1:PORT/admissions
#   TEST_PG_ADMIN_URI   the same server, database postgres (to create scratch databases)
#   TEST_REDIS_URL      redis://127.0.0.1:PORT
#   ADMISSIONS_BUILD_DIR, ADMISSIONS_SOURCE_DIR   absolute paths
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
# shellcheck source=deploy/local/lib.sh
. "$here/lib.sh"

"$here/install-deps.sh"
build

TEST_DIR=$(mktemp -d "${TMPDIR:-/tmp}/admissions-test.XXXXXX")
chmod 0755 "$TEST_DIR" # the postgres user must reach its data directory inside

# shellcheck disable=SC2317  # called by the EXIT trap
cleanup() {
  local status=$?
  trap '' INT TERM
  stop_processes
  stop_redis "$TEST_DIR/redis" || true
  stop_postgres "$TEST_DIR/postgres" || true
  remove_postgres "$TEST_DIR/postgres"
  rm -rf "$TEST_DIR"
  exit "$status"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

mkdir -p "$TEST_DIR/logs"
pg_port=$(free_port)
start_postgres "$TEST_DIR/postgres" "$pg_port" "$TEST_DIR/logs/postgres.log" ||
  die "PostgreSQL did not start"
redis_port=$(free_port)
start_redis "$TEST_DIR/redis" "$redis_port" "$TEST_DIR/logs/redis.log" ||
  die "Redis did not start"

export TEST_PG_URI="postgresql://postgres@127.0.0.1:$pg_port/admissions"
export TEST_PG_ADMIN_URI="postgresql://postgres@127.0.0.1:$pg_port/postgres"
export TEST_REDIS_URL="redis://127.0.0.1:$redis_port"
export ADMISSIONS_BUILD_DIR="$BUILD_DIR"
export ADMISSIONS_SOURCE_DIR="$ADMISSIONS_ROOT"
# What a test must never pick up from the developer's shell.
unset PG_URI REDIS_URL DEV_MODE PORT_FILE GATEWAY_PORT

log "running tests (PostgreSQL 127.0.0.1:$pg_port, Redis 127.0.0.1:$redis_port)"
status=0
ctest --test-dir "$BUILD_DIR" --output-on-failure "$@" || status=$?
exit "$status"
