#!/usr/bin/env bash
# `make run`: installs what is missing, builds, and starts the whole backend on this
# machine in development mode: a private PostgreSQL and Redis, every service, and the
# gateway on http://127.0.0.1:${GATEWAY_PORT:-8080}, then loads the demo data (demo.sh).
# Stays in the foreground; Ctrl-C or SIGTERM stops everything in order and exits 0.
#
# Everything lives under .local/run-$GATEWAY_PORT/ (ignored by git): the database and
# the Redis AOF (kept between runs), the keys (generated once, so the data stays
# readable), port files, and logs/*.log. Every port but the gateway's is picked free, so
# two runs with different GATEWAY_PORTs do not collide.
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
# shellcheck source=deploy/local/lib.sh
. "$here/lib.sh"
# shellcheck source=deploy/local/coturn.sh
. "$here/coturn.sh"

GATEWAY_PORT=${GATEWAY_PORT:-8080}
if ! [[ "$GATEWAY_PORT" =~ ^[0-9]+$ ]] || ((GATEWAY_PORT < 1 || GATEWAY_PORT > 65535)); then
  die "GATEWAY_PORT must be a port number, got '$GATEWAY_PORT'"
fi

RUN_DIR="$ADMISSIONS_ROOT/.local/run-$GATEWAY_PORT"
LOG_DIR="$RUN_DIR/logs"
mkdir -p "$LOG_DIR"

# One `make run` per directory: a second one on the same port stops here.
exec 9>"$RUN_DIR/lock"
flock -n 9 || die "another 'make run' is using $RUN_DIR (GATEWAY_PORT=$GATEWAY_PORT); pick another GATEWAY_PORT"

if port_in_use "$GATEWAY_PORT"; then
  die "port $GATEWAY_PORT is already in use; set GATEWAY_PORT to another port"
fi

"$here/install-deps.sh"
build

SERVING=0
pg_started=0
redis_started=0
coturn_started=0

cleanup() {
  local status=$?
  # Stopping is bounded by timeouts; a second Ctrl-C must not leave PostgreSQL running.
  trap '' INT TERM
  stop_processes
  if ((coturn_started)); then stop_coturn "$RUN_DIR/coturn" || status=1; fi
  if ((redis_started)); then stop_redis "$RUN_DIR/redis" || status=1; fi
  if ((pg_started)); then stop_postgres "$RUN_DIR/postgres" || status=1; fi
  if ((status == 0)); then log "stopped"; fi
  exit "$status"
}
on_signal() {
  echo >&2
  log "signal received, stopping"
  if ((SERVING)); then exit 0; else exit 130; fi
}
trap cleanup EXIT
trap on_signal INT TERM

pg_port=$(free_port)
pg_started=1
start_postgres "$RUN_DIR/postgres" "$pg_port" "$LOG_DIR/postgres.log" ||
  die "PostgreSQL did not start (log: $LOG_DIR/postgres.log)"

redis_port=$(free_port)
redis_started=1
start_redis "$RUN_DIR/redis" "$redis_port" "$LOG_DIR/redis.log" ||
  die "Redis did not start (log: $LOG_DIR/redis.log)"

export PG_URI="postgresql://postgres@127.0.0.1:$pg_port/admissions"
export REDIS_URL="redis://127.0.0.1:$redis_port"
export DEV_MODE=true
ensure_keys "$RUN_DIR/keys.env"

# The TURN server the interview's browsers relay through when a direct path fails (R15),
# with the shared secret media-signaling signs its TURN REST credentials with (kept, so
# that credentials handed out before a restart keep working until they expire).
if [[ ! -s "$RUN_DIR/turn.secret" ]]; then
  (
    umask 077
    head -c 24 /dev/urandom | base64 | tr -d '/+=' >"$RUN_DIR/turn.secret"
  )
fi
turn_port=$(free_port)
coturn_started=1
start_coturn "$RUN_DIR/coturn" "$turn_port" "$(<"$RUN_DIR/turn.secret")" "$LOG_DIR/coturn.log" ||
  die "coturn did not start (log: $LOG_DIR/coturn.log)"
TURN_SECRET=$(<"$RUN_DIR/turn.secret")
export TURN_SECRET
export TURN_URLS="turn:127.0.0.1:$turn_port?transport=udp,turn:127.0.0.1:$turn_port?transport=tcp"
export STUN_URLS="stun:127.0.0.1:$turn_port"

start_services "$RUN_DIR" "$LOG_DIR" || exit 1
start_gateway "$RUN_DIR" "$LOG_DIR" "$GATEWAY_PORT" || exit 1
log "loading the demo data"
demo_info=$("$here/demo.sh" "$GATEWAY_URL") || die "the demo data did not load (see above)"

rel_dir=${RUN_DIR#"$ADMISSIONS_ROOT"/}
cat <<EOF

  Admissions backend is running (development mode).

    URL            $GATEWAY_URL        (health: $GATEWAY_URL/healthz)
    Dev operator   login: operator    password: operator-dev-pass
    SMS outbox     $GATEWAY_URL/v1/dev/sms-outbox?phone=PHONE
$demo_info
    Logs           $rel_dir/logs/*.log
    Data           $rel_dir/ (PostgreSQL on 127.0.0.1:$pg_port, Redis on 127.0.0.1:$redis_port)
    TURN           coturn on 127.0.0.1:$turn_port (ICE servers: GET $GATEWAY_URL/v1/ice-servers)

  Ctrl-C stops everything.

EOF
SERVING=1

# Stay in the foreground; if a process dies on its own, report it and stop the rest.
while :; do
  if i=$(dead_process); then
    echo "error: ${PROC_NAMES[$i]} exited unexpectedly" >&2
    show_log_tail "${PROC_NAMES[$i]}" "${PROC_LOGS[$i]}"
    SERVING=0
    exit 1
  fi
  if ! proc_alive "$(postgres_pid "$RUN_DIR/postgres" || true)"; then
    echo "error: PostgreSQL exited unexpectedly" >&2
    show_log_tail postgres "$LOG_DIR/postgres.log"
    exit 1
  fi
  if ! coturn_pid "$RUN_DIR/coturn" >/dev/null; then
    echo "error: coturn exited unexpectedly" >&2
    show_log_tail coturn "$LOG_DIR/coturn.log"
    exit 1
  fi
  if ! proc_alive "$(redis_pid "$RUN_DIR/redis" || true)"; then
    echo "error: Redis exited unexpectedly" >&2
    show_log_tail redis "$LOG_DIR/redis.log"
    exit 1
  fi
  # A background sleep, so that a signal is handled at once rather than after it.
  sleep 1 &
  wait $! || true
done
