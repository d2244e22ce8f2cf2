# shellcheck shell=bash
# Shared helpers of deploy/local/*.sh and tests/bench/bench.sh. Source it; it defines
# functions and a few variables and runs nothing.
#
#   free_port                       print a TCP port nobody listens on (127.0.0.1)
#   start_postgres DIR PORT [LOG]   private PostgreSQL, data in DIR/data, database admissions
#   stop_postgres DIR
#   remove_postgres DIR             delete a stopped cluster's files
#   start_redis DIR PORT [LOG]      private Redis, AOF on, files in DIR
#   stop_redis DIR
#   wait_http URL TIMEOUT [PID]     until URL answers 2xx (fails early if PID dies)
#   wait_file FILE TIMEOUT [PID]    until FILE is non-empty (fails early if PID dies)
#   build                           configure once (CMake + Ninja + ccache), then ninja
#                                   (BUILD_DIR moves it, ADMISSIONS_SKIP_BUILD=1 skips it)
#   ensure_keys FILE                generate the service keys once into FILE, then export them
#   start_services DIR LOGDIR       every service of ADMISSIONS_SERVICES, gRPC on free ports
#   start_gateway DIR LOGDIR PORT   the gateway, wired to the services, waited until ready
#   stop_processes                  stop what start_process started, newest first

ADMISSIONS_ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
BUILD_DIR="${BUILD_DIR:-$ADMISSIONS_ROOT/build}"

# The services that `make run`, `make bench` and the Kubernetes test know about.
# Adding a service is adding its line here (and its manifests under deploy/k8s/base/).
#   name            binary, relative to the build dir                     gateway flag
ADMISSIONS_SERVICES=(
  "identity         services/identity/identity-service                    identity_addr"
  "enrollment       services/enrollment/enrollment-service                enrollment_addr"
  "payment          services/payment/payment-service                      payment_addr"
  "materials        services/materials/materials-service                  materials_addr"
  "waiting-room     services/waiting_room/waiting-room-service            waiting_room_addr"
  "media-signaling  services/media_signaling/media-signaling-service      media_signaling_addr"
)

GATEWAY_BINARY="gateway/gateway"
KEYGEN_BINARY="services/identity/identity-keygen"

log() { printf '==> %s\n' "$*" >&2; }
warn() { printf 'warning: %s\n' "$*" >&2; }
die() {
  printf 'error: %s\n' "$*" >&2
  exit 1
}

# Prints the last lines of a log file under a header, for "it failed to start" reports.
show_log_tail() {
  local name=$1 file=$2 lines=${3:-40}
  printf -- '--- last %s lines of %s (%s) ---\n' "$lines" "$name" "$file" >&2
  if [[ -r "$file" ]]; then tail -n "$lines" "$file" >&2; else echo "(no log)" >&2; fi
  printf -- '--- end of %s ---\n' "$name" >&2
}

# True while PID exists and is not a zombie (a dead child we have not reaped yet).
proc_alive() {
  local pid=$1 stat
  [[ -n "$pid" && -r "/proc/$pid/stat" ]] || return 1
  stat=$(<"/proc/$pid/stat") 2>/dev/null || return 1
  stat=${stat##*) }
  [[ "${stat%% *}" != "Z" ]]
}

# ---------------------------------------------------------------------------- ports

# Whether something listens on 127.0.0.1:PORT (or on every address at PORT).
port_in_use() {
  local port=$1
  if command -v ss >/dev/null 2>&1; then
    ss -Htln "sport = :$port" 2>/dev/null | grep -q . && return 0
    return 1
  fi
  (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null
}

# Prints a free TCP port on 127.0.0.1. The kernel picks it (bind to port 0) when python3
# is present; otherwise random ports are tried until one is free.
free_port() {
  local port tries
  if command -v python3 >/dev/null 2>&1; then
    port=$(python3 -c 'import socket
s = socket.socket()
s.bind(("127.0.0.1", 0))
print(s.getsockname()[1])
s.close()' 2>/dev/null) && [[ "$port" =~ ^[0-9]+$ ]] && {
      echo "$port"
      return 0
    }
  fi
  for ((tries = 0; tries < 200; tries++)); do
    port=$((20000 + (RANDOM * 32768 + RANDOM) % 12000))
    if ! port_in_use "$port"; then
      echo "$port"
      return 0
    fi
  done
  echo "free_port: no free port found" >&2
  return 1
}

# --------------------------------------------------------------------------- waiting

# wait_file FILE TIMEOUT_SECONDS [PID]: until FILE exists and is non-empty.
wait_file() {
  local file=$1 timeout=$2 pid=${3:-}
  local deadline=$((SECONDS + timeout))
  until [[ -s "$file" ]]; do
    if [[ -n "$pid" ]] && ! proc_alive "$pid"; then return 1; fi
    ((SECONDS < deadline)) || return 1
    sleep 0.1
  done
}

# wait_http URL TIMEOUT_SECONDS [PID]: until URL answers with a 2xx status.
wait_http() {
  local url=$1 timeout=$2 pid=${3:-}
  local deadline=$((SECONDS + timeout))
  until curl -fsS -o /dev/null --max-time 2 "$url" 2>/dev/null; do
    if [[ -n "$pid" ]] && ! proc_alive "$pid"; then return 1; fi
    ((SECONDS < deadline)) || return 1
    sleep 0.2
  done
}

# ----------------------------------------------------------------------------- build

build() {
  if [[ "${ADMISSIONS_SKIP_BUILD:-0}" == 1 ]]; then
    log "ADMISSIONS_SKIP_BUILD=1: using the binaries already in $BUILD_DIR"
    return 0
  fi
  local gen_args=(-S "$ADMISSIONS_ROOT" -B "$BUILD_DIR" -G Ninja
    "-DCMAKE_BUILD_TYPE=${CMAKE_BUILD_TYPE:-RelWithDebInfo}")
  if command -v ccache >/dev/null 2>&1; then
    gen_args+=(-DCMAKE_CXX_COMPILER_LAUNCHER=ccache -DCMAKE_C_COMPILER_LAUNCHER=ccache)
    # Paths under the checkout hash as relative ones, and the build directory is left out
    # of the hash of -g compiles, so that another clone of the repository on this machine
    # (CI's) reuses the objects this one compiled. (Its debug info may then name the other
    # clone's directory: the sources are the same.)
    export CCACHE_BASEDIR="$ADMISSIONS_ROOT" CCACHE_NOHASHDIR=1
  fi
  if [[ ! -f "$BUILD_DIR/build.ninja" ]]; then
    log "configuring $BUILD_DIR"
    cmake "${gen_args[@]}"
  fi
  # ninja re-runs CMake by itself when a CMakeLists.txt changed.
  log "building"
  ninja -C "$BUILD_DIR" ${NINJA_JOBS:+-j "$NINJA_JOBS"}
}

# ------------------------------------------------------------------------ PostgreSQL

pg_bin_dir() {
  local dir
  dir=$(printf '%s\n' /usr/lib/postgresql/*/bin | sort -V | tail -n 1)
  [[ -n "$dir" && -x "$dir/pg_ctl" ]] || die "PostgreSQL not found under /usr/lib/postgresql (run deploy/local/install-deps.sh)"
  echo "$dir"
}

# Runs a command as the user PostgreSQL runs as: `postgres` when we are root (PostgreSQL
# refuses to run as root), ourselves otherwise. From /, so that an unreadable working
# directory does not matter.
as_pg() {
  if ((EUID == 0)); then
    (cd / && runuser -u postgres -- "$@" 9>&-)
  else
    (cd / && "$@" 9>&-)
  fi
}

# The data directory of the cluster kept for DIR. Normally DIR/data. When we are root and
# the postgres user cannot reach DIR (a parent such as /root is not searchable by others),
# the data lives under /var/tmp/admissions-postgres/ and DIR/data is a symlink to it.
_pg_data_dir() {
  local dir=$1 home
  if [[ -L "$dir/data" ]]; then
    readlink -f "$dir/data"
    return
  fi
  if ((EUID != 0)) || runuser -u postgres -- test -w "$dir" 2>/dev/null; then
    echo "$dir/data"
    return
  fi
  home="/var/tmp/admissions-postgres/$(printf '%s' "$dir" | sha256sum | cut -c1-16)"
  install -d -m 0755 /var/tmp/admissions-postgres
  install -d -m 0700 -o postgres -g postgres "$home"
  ln -sfn "$home/data" "$dir/data"
  warn "user postgres cannot reach $dir; its data lives in $home (linked from $dir/data)"
  echo "$home/data"
}

# start_postgres DIR PORT [LOGFILE]: starts (initialising on first use) a PostgreSQL
# cluster kept in DIR, listening on 127.0.0.1:PORT with trust authentication, and makes
# sure the database `admissions` exists. The data stays in DIR between runs.
start_postgres() {
  local dir=$1 port=$2 logfile=${3:-}
  local bin data sockdir
  bin=$(pg_bin_dir)
  mkdir -p "$dir"
  dir=$(cd "$dir" && pwd)
  if ((EUID == 0)); then
    chown postgres:postgres "$dir"
    chmod 0700 "$dir"
  fi
  data=$(_pg_data_dir "$dir")
  sockdir=$(dirname "$data")
  [[ -n "$logfile" ]] || logfile="$sockdir/postgres.log"
  touch "$logfile"
  ((EUID != 0)) || chown postgres:postgres "$logfile"
  if ! as_pg test -w "$logfile"; then
    # Out of the postgres user's reach: log next to the data, linked from LOGFILE.
    rm -f "$logfile"
    ln -s "$sockdir/postgres.log" "$logfile"
    logfile="$sockdir/postgres.log"
    touch "$logfile"
    ((EUID != 0)) || chown postgres:postgres "$logfile"
  fi

  if [[ ! -f "$data/PG_VERSION" ]]; then
    log "initialising PostgreSQL in $data"
    rm -rf "$data"
    as_pg "$bin/initdb" -D "$data" -U postgres -E UTF8 --locale=C --auth=trust >>"$logfile" 2>&1 ||
      {
        show_log_tail postgres "$logfile"
        return 1
      }
    cat >"$data/pg_hba.conf" <<'EOF'
# Private development/test cluster: trust, and only from this machine.
local   all   all                 trust
host    all   all   127.0.0.1/32  trust
EOF
    echo "include_if_exists = 'admissions.conf'" >>"$data/postgresql.conf"
  fi

  # A cluster left running by a run that was killed: it is ours, stop it first.
  if as_pg "$bin/pg_ctl" -D "$data" status >/dev/null 2>&1; then
    warn "PostgreSQL in $data was still running; stopping it"
    as_pg "$bin/pg_ctl" -D "$data" stop -m fast -w -t 60 >/dev/null 2>&1 || true
  fi

  # Settings that may change from run to run (the port does) are rewritten on each start.
  local sock_setting="''"
  if ((${#sockdir} < 90)); then sock_setting="'$sockdir'"; fi
  cat >"$data/admissions.conf" <<EOF
listen_addresses = '127.0.0.1'
port = $port
unix_socket_directories = $sock_setting
fsync = on
synchronous_commit = on
full_page_writes = on
max_connections = 200
timezone = 'UTC'
log_timezone = 'UTC'
log_line_prefix = '%m [%p] %q%u@%d '
EOF
  ((EUID != 0)) || chown postgres:postgres "$data/pg_hba.conf" "$data/admissions.conf"

  log "starting PostgreSQL on 127.0.0.1:$port"
  if ! as_pg "$bin/pg_ctl" -D "$data" -l "$logfile" -w -t 60 start >/dev/null; then
    show_log_tail postgres "$logfile"
    return 1
  fi
  local psql=("$bin/psql" -X -q -v ON_ERROR_STOP=1 -h 127.0.0.1 -p "$port" -U postgres)
  if [[ "$("${psql[@]}" -d postgres -tAc "SELECT 1 FROM pg_database WHERE datname = 'admissions'")" != "1" ]]; then
    "${psql[@]}" -d postgres -c 'CREATE DATABASE admissions' >/dev/null ||
      {
        show_log_tail postgres "$logfile"
        return 1
      }
  fi
}

# stop_postgres DIR: fast shutdown (rolls back open transactions, checkpoints, exits).
stop_postgres() {
  local dir=$1 bin data
  [[ -e "$dir/data" ]] || return 0
  bin=$(pg_bin_dir)
  data=$(readlink -f "$dir/data")
  [[ -f "$data/postmaster.pid" ]] || return 0
  log "stopping PostgreSQL ($data)"
  if ! as_pg "$bin/pg_ctl" -D "$data" stop -m fast -w -t 60 >/dev/null; then
    warn "PostgreSQL did not stop in time; immediate shutdown"
    as_pg "$bin/pg_ctl" -D "$data" stop -m immediate -w -t 30 >/dev/null || return 1
  fi
}

# remove_postgres DIR: deletes a stopped cluster's files, including data kept outside DIR.
remove_postgres() {
  local dir=$1
  if [[ -L "$dir/data" ]]; then
    rm -rf "$(dirname "$(readlink -f "$dir/data")")"
  fi
  rm -rf "$dir"
}

# The PID of the PostgreSQL postmaster of DIR, if it runs.
postgres_pid() {
  local data
  data=$(readlink -f "$1/data" 2>/dev/null) || return 1
  [[ -r "$data/postmaster.pid" ]] || return 1
  head -n 1 "$data/postmaster.pid"
}

# ----------------------------------------------------------------------------- Redis

# start_redis DIR PORT [LOGFILE]: a Redis of our own on 127.0.0.1:PORT, its config, AOF
# and pid file in DIR (kept between runs).
start_redis() {
  local dir=$1 port=$2 logfile=${3:-}
  mkdir -p "$dir"
  dir=$(cd "$dir" && pwd)
  [[ -n "$logfile" ]] || logfile="$dir/redis.log"
  touch "$logfile"

  local old
  old=$(cat "$dir/redis.pid" 2>/dev/null || true)
  if [[ -n "$old" ]] && proc_alive "$old" && grep -q redis-server "/proc/$old/cmdline" 2>/dev/null; then
    warn "Redis of $dir was still running; stopping it"
    stop_redis "$dir"
  fi

  cat >"$dir/redis.conf" <<EOF
bind 127.0.0.1
port $port
protected-mode no
daemonize yes
pidfile "$dir/redis.pid"
logfile "$logfile"
dir "$dir"
appendonly yes
appendfsync everysec
save ""
EOF
  log "starting Redis on 127.0.0.1:$port"
  if ! redis-server "$dir/redis.conf" >>"$logfile" 2>&1 9>&-; then
    show_log_tail redis "$logfile"
    return 1
  fi
  local deadline=$((SECONDS + 30))
  until [[ "$(redis-cli -h 127.0.0.1 -p "$port" ping 2>/dev/null)" == "PONG" ]]; do
    if ((SECONDS >= deadline)); then
      show_log_tail redis "$logfile"
      return 1
    fi
    sleep 0.1
  done
}

# stop_redis DIR: SIGTERM (Redis fsyncs the AOF and exits), SIGKILL after 30 s.
stop_redis() {
  local dir=$1 pid
  pid=$(cat "$dir/redis.pid" 2>/dev/null || true)
  [[ -n "$pid" ]] && proc_alive "$pid" || return 0
  log "stopping Redis ($dir)"
  kill -TERM "$pid" 2>/dev/null || return 0
  local deadline=$((SECONDS + 30))
  while proc_alive "$pid"; do
    if ((SECONDS >= deadline)); then
      warn "Redis did not stop in time; killing it"
      kill -KILL "$pid" 2>/dev/null || true
      break
    fi
    sleep 0.1
  done
}

redis_pid() { cat "$1/redis.pid" 2>/dev/null; }

# ------------------------------------------------------------------------- processes

PROC_NAMES=()
PROC_PIDS=()
PROC_LOGS=()

# start_process NAME LOGFILE COMMAND...: runs COMMAND in the background in a session of
# its own (a Ctrl-C at the terminal reaches only the script, which then stops everything
# in order), output appended to LOGFILE. Sets STARTED_PID.
start_process() {
  local name=$1 logfile=$2
  shift 2
  printf '\n=== %s start %s: %s\n' "$(date -u +%FT%TZ)" "$name" "$*" >>"$logfile"
  if command -v setsid >/dev/null 2>&1; then
    setsid "$@" </dev/null >>"$logfile" 2>&1 9>&- &
  else
    "$@" </dev/null >>"$logfile" 2>&1 9>&- &
  fi
  STARTED_PID=$!
  PROC_NAMES+=("$name")
  PROC_PIDS+=("$STARTED_PID")
  PROC_LOGS+=("$logfile")
}

# Stops every process start_process started, newest first: SIGTERM, then SIGKILL after
# STOP_TIMEOUT seconds (default 20).
stop_processes() {
  local i pid name deadline
  for ((i = ${#PROC_PIDS[@]} - 1; i >= 0; i--)); do
    pid=${PROC_PIDS[$i]}
    name=${PROC_NAMES[$i]}
    if proc_alive "$pid"; then
      log "stopping $name (pid $pid)"
      kill -TERM "$pid" 2>/dev/null || true
      deadline=$((SECONDS + ${STOP_TIMEOUT:-20}))
      while proc_alive "$pid"; do
        if ((SECONDS >= deadline)); then
          warn "$name did not stop in ${STOP_TIMEOUT:-20}s; killing it"
          kill -KILL "$pid" 2>/dev/null || true
          break
        fi
        sleep 0.1
      done
    fi
    wait "$pid" 2>/dev/null || true
  done
  PROC_NAMES=()
  PROC_PIDS=()
  PROC_LOGS=()
}

# Prints the name of the first started process that is no longer running, if any.
dead_process() {
  local i
  for ((i = 0; i < ${#PROC_PIDS[@]}; i++)); do
    if ! proc_alive "${PROC_PIDS[$i]}"; then
      echo "$i"
      return 0
    fi
  done
  return 1
}

# -------------------------------------------------------------------------- the stack

# ensure_keys FILE: generates the signing and encryption keys into FILE the first time
# (mode 600), keeps them afterwards (the data encrypted with them stays readable), and
# exports them.
ensure_keys() {
  local file=$1 keygen="$BUILD_DIR/$KEYGEN_BINARY"
  if [[ ! -s "$file" ]]; then
    [[ -x "$keygen" ]] || die "$keygen not built"
    log "generating keys into $file"
    (
      umask 077
      "$keygen" >"$file.tmp"
    ) || die "$keygen failed"
    mv "$file.tmp" "$file"
  fi
  local name
  for name in TOKEN_SIGNING_KEY TOKEN_PUBLIC_KEYS PII_ENCRYPTION_KEY PII_INDEX_KEY; do
    grep -q "^$name=" "$file" || die "$file lacks $name"
  done
  set -a
  # shellcheck disable=SC1090
  . "$file"
  set +a
}

# Gateway flags naming each started service's address, filled by start_services.
GATEWAY_UPSTREAM_FLAGS=()

# start_services DIR LOGDIR: starts every service of ADMISSIONS_SERVICES, in order, each
# with its gRPC server on a free port picked before any starts (it writes the port to
# DIR/NAME.port once listening), and exports every one's address as its flag in capitals
# (IDENTITY_ADDR=127.0.0.1:PORT) before the first starts: services call each other both
# ways (enrollment asks payment for the PAYMENT step, payment asks enrollment for the
# exam), and gRPC channels connect lazily. Needs PG_URI, REDIS_URL, DEV_MODE and the keys
# in the environment. Materials keeps its files in MATERIALS_BLOB_DIR, by default
# DIR/materials-blobs (so `make run` keeps them under .local/ next to its database).
start_services() {
  local dir=$1 logdir=$2 line name binary flag port_file port
  local -A ports=()
  GATEWAY_UPSTREAM_FLAGS=()
  export MATERIALS_BLOB_DIR="${MATERIALS_BLOB_DIR:-$dir/materials-blobs}"
  for line in "${ADMISSIONS_SERVICES[@]}"; do
    read -r name binary flag <<<"$line"
    port=$(free_port) || return 1
    ports[$name]=$port
    GATEWAY_UPSTREAM_FLAGS+=("--$flag=127.0.0.1:$port")
    export "${flag^^}=127.0.0.1:$port"
  done
  for line in "${ADMISSIONS_SERVICES[@]}"; do
    read -r name binary flag <<<"$line"
    [[ -x "$BUILD_DIR/$binary" ]] || die "$BUILD_DIR/$binary not built"
    port_file="$dir/$name.port"
    rm -f "$port_file"
    log "starting $name"
    start_process "$name" "$logdir/$name.log" \
      "$BUILD_DIR/$binary" --grpc_addr="127.0.0.1:${ports[$name]}" --port_file="$port_file"
    if ! wait_file "$port_file" "${START_TIMEOUT:-60}" "$STARTED_PID"; then
      echo "error: $name did not start (see $logdir/$name.log)" >&2
      show_log_tail "$name" "$logdir/$name.log"
      return 1
    fi
  done
}

# start_gateway DIR LOGDIR PORT: starts the gateway on PORT (0 = any) bound to
# GATEWAY_BIND (default 127.0.0.1) and waits until /readyz answers. Sets GATEWAY_URL.
# The gateway gets only the public token keys, not the services' secrets.
start_gateway() {
  local dir=$1 logdir=$2 port=$3
  local port_file="$dir/gateway.port" bind=${GATEWAY_BIND:-127.0.0.1}
  [[ -x "$BUILD_DIR/$GATEWAY_BINARY" ]] || die "$BUILD_DIR/$GATEWAY_BINARY not built"
  rm -f "$port_file"
  log "starting gateway"
  start_process gateway "$logdir/gateway.log" \
    env -u TOKEN_SIGNING_KEY -u PII_ENCRYPTION_KEY -u PII_INDEX_KEY -u PG_URI -u TURN_SECRET \
    "$BUILD_DIR/$GATEWAY_BINARY" --bind="$bind" --port="$port" --port_file="$port_file" \
    --dev_mode="${DEV_MODE:-false}" --redis_url="$REDIS_URL" "${GATEWAY_UPSTREAM_FLAGS[@]}"
  local pid=$STARTED_PID host=$bind
  if [[ "$host" == "0.0.0.0" || "$host" == "::" ]]; then host=127.0.0.1; fi
  if ! wait_file "$port_file" "${START_TIMEOUT:-60}" "$pid"; then
    echo "error: the gateway did not start (see $logdir/gateway.log)" >&2
    show_log_tail gateway "$logdir/gateway.log"
    return 1
  fi
  GATEWAY_URL="http://$host:$(<"$port_file")"
  if ! wait_http "$GATEWAY_URL/readyz" "${START_TIMEOUT:-60}" "$pid"; then
    echo "error: the gateway at $GATEWAY_URL never became ready (see $logdir/gateway.log)" >&2
    show_log_tail gateway "$logdir/gateway.log"
    return 1
  fi
}
