# Shared by the benchmarks (sourced): the backend on free ports in a temporary
# directory, cleaned up on exit; an account and its token; wrk measurement helpers.
# shellcheck shell=bash

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
# shellcheck source=deploy/local/lib.sh
. "$here/../../deploy/local/lib.sh"

THREADS=${BENCH_THREADS:-2}
CONNECTIONS=${BENCH_CONNECTIONS:-64}
DURATION=${BENCH_DURATION:-10s}
WARMUP=${BENCH_WARMUP:-2s}

"$ADMISSIONS_ROOT/deploy/local/install-deps.sh"
build

BENCH_DIR=$(mktemp -d "${TMPDIR:-/tmp}/admissions-bench.XXXXXX")
chmod 0755 "$BENCH_DIR"
LOG_DIR="$BENCH_DIR/logs"
mkdir -p "$LOG_DIR"

# shellcheck disable=SC2317  # called by the EXIT trap
cleanup() {
  local status=$?
  trap '' INT TERM
  stop_processes
  stop_redis "$BENCH_DIR/redis" || true
  stop_postgres "$BENCH_DIR/postgres" || true
  remove_postgres "$BENCH_DIR/postgres"
  rm -rf "$BENCH_DIR"
  exit "$status"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

# ------------------------------------------------------------------- the backend

pg_port=$(free_port)
start_postgres "$BENCH_DIR/postgres" "$pg_port" "$LOG_DIR/postgres.log" || die "PostgreSQL did not start"
redis_port=$(free_port)
start_redis "$BENCH_DIR/redis" "$redis_port" "$LOG_DIR/redis.log" || die "Redis did not start"
export PG_URI="postgresql://postgres@127.0.0.1:$pg_port/admissions"
export REDIS_URL="redis://127.0.0.1:$redis_port"
export DEV_MODE=true
ensure_keys "$BENCH_DIR/keys.env"
start_services "$BENCH_DIR" "$LOG_DIR" || exit 1
GATEWAY_BIND=127.0.0.1 start_gateway "$BENCH_DIR" "$LOG_DIR" 0 || exit 1


# start_nginx: Debian's nginx answering a 100-byte `return 200`; sets NGINX_URL.
start_nginx() {
  NGINX_DIR="$BENCH_DIR/nginx"
  mkdir -p "$NGINX_DIR/tmp"
  nginx_port=$(free_port)
  body=$(printf 'x%.0s' $(seq 1 100))
  {
    ((EUID != 0)) || echo "user root;"
    cat <<EOF
worker_processes auto;
daemon off;
pid $NGINX_DIR/nginx.pid;
error_log $NGINX_DIR/error.log warn;
events { worker_connections 4096; }
http {
  access_log off;
  keepalive_requests 1000000;
  client_body_temp_path $NGINX_DIR/tmp/body;
  proxy_temp_path $NGINX_DIR/tmp/proxy;
  fastcgi_temp_path $NGINX_DIR/tmp/fastcgi;
  uwsgi_temp_path $NGINX_DIR/tmp/uwsgi;
  scgi_temp_path $NGINX_DIR/tmp/scgi;
  server {
    listen 127.0.0.1:$nginx_port;
    location / {
      default_type text/plain;
      return 200 "$body";
    }
  }
}
EOF
  } >"$NGINX_DIR/nginx.conf"
  nginx -t -q -p "$NGINX_DIR" -c "$NGINX_DIR/nginx.conf" >>"$LOG_DIR/nginx.log" 2>&1 ||
    {
      show_log_tail nginx "$LOG_DIR/nginx.log"
      die "nginx configuration rejected"
    }
  log "starting nginx on 127.0.0.1:$nginx_port"
  start_process nginx "$LOG_DIR/nginx.log" nginx -p "$NGINX_DIR" -c "$NGINX_DIR/nginx.conf"
  NGINX_URL="http://127.0.0.1:$nginx_port/"
  wait_http "$NGINX_URL" 20 "$STARTED_PID" || {
    show_log_tail nginx "$LOG_DIR/nginx.log"
    die "nginx did not start"
  }
  [[ "$(curl -fsS "$NGINX_URL" | wc -c)" == 100 ]] || die "nginx does not serve a 100-byte body"
}

# api METHOD PATH [JSON]: calls the gateway, prints the body; fails on a non-2xx answer.
api() {
  local method=$1 path=$2 data=${3:-} out code
  local args=(-sS -X "$method" --max-time 10 -w '\n%{http_code}')
  [[ -z "$data" ]] || args+=(-H 'Content-Type: application/json' --data-binary "$data")
  out=$(curl "${args[@]}" "$GATEWAY_URL$path") || die "$method $path: no answer"
  code=${out##*$'\n'}
  out=${out%$'\n'*}
  if [[ ! "$code" =~ ^2 ]]; then
    die "$method $path answered $code: $out"
  fi
  printf '%s' "$out"
}

# authed METHOD PATH TOKEN [JSON]: like api, with a bearer token.
authed() {
  local method=$1 path=$2 token=$3 data=${4:-} out code
  local args=(-sS -X "$method" --max-time 60 -w '\n%{http_code}' -H "Authorization: Bearer $token")
  [[ -z "$data" ]] || args+=(-H 'Content-Type: application/json' --data-binary "$data")
  out=$(curl "${args[@]}" "$GATEWAY_URL$path") || die "$method $path: no answer"
  code=${out##*$'\n'}
  out=${out%$'\n'*}
  [[ "$code" =~ ^2 ]] || die "$method $path answered $code: $out"
  printf '%s' "$out"
}

# ts UNIX_SECONDS: RFC 3339 in UTC, as the API takes times.
ts() { date -u -d "@$1" +%Y-%m-%dT%H:%M:%SZ; }

# operator_token: the development operator's access token.
operator_token() {
  api POST /v1/sessions '{"login":"operator","password":"operator-dev-pass"}' | jq -r .accessToken
}

# register_and_login: a candidate through the dev SMS outbox; sets PHONE, PASSWORD
# and TOKEN.
register_and_login() {
  PHONE=13800138000
  PASSWORD=bench-password-1
  log "registering a candidate and logging in"
  api POST /v1/sms-codes "$(jq -nc --arg p "$PHONE" '{phone: $p, purpose: "REGISTER"}')" >/dev/null
  code=$(api GET "/v1/dev/sms-outbox?phone=$PHONE" | jq -r '.messages | last | .code // empty')
  [[ -n "$code" ]] || die "no SMS code in the dev outbox for $PHONE"
  api POST /v1/accounts "$(jq -nc --arg p "$PHONE" --arg c "$code" --arg pw "$PASSWORD" \
    '{phone: $p, smsCode: $c, password: $pw, name: "张三", idType: "RESIDENT_ID",
      idNumber: "11010519491231002X"}')" >/dev/null
  TOKEN=$(api POST /v1/sessions "$(jq -nc --arg l "$PHONE" --arg pw "$PASSWORD" \
    '{login: $l, password: $pw}')" | jq -r '.accessToken // empty')
  [[ -n "$TOKEN" ]] || die "login answered no accessToken"
  curl -fsS -H "Authorization: Bearer $TOKEN" "$GATEWAY_URL/v1/me" | jq -e '.accountId' >/dev/null ||
    die "GET /v1/me with the token did not answer the account"
}

ratio() { awk -v a="$1" -v b="$2" 'BEGIN { if (b > 0) printf "%.2f", a / b; else print "n/a" }'; }
verdict() { awk -v r="$1" -v g="$2" 'BEGIN { print (r + 0 >= g) ? "met" : "MISSED" }'; }


# describe_run: the commit and machine line of a results file.
describe_run() {
  commit=$(git -C "$ADMISSIONS_ROOT" rev-parse --short HEAD 2>/dev/null || echo "none")
  if [[ -n "$(git -C "$ADMISSIONS_ROOT" status --porcelain 2>/dev/null | head -1)" ]]; then
    commit="$commit (with uncommitted changes)"
  fi
  cpu=$(awk -F': ' '/^model name/ { print $2; exit }' /proc/cpuinfo 2>/dev/null || true)
  printf '%s · commit %s · %s cores%s · build %s' "$(date -u +%FT%TZ)" "$commit" "$(nproc)" \
    "${cpu:+ ($cpu)}" "${CMAKE_BUILD_TYPE:-RelWithDebInfo}"
}

# to_ms VALUE: wrk's "812.00us" / "1.23ms" / "2.01s" / "1.00m" in milliseconds.
to_ms() {
  awk -v v="$1" 'BEGIN {
    n = v + 0; u = v; sub(/^[0-9.]+/, "", u)
    if (u == "us") n /= 1000; else if (u == "s") n *= 1000; else if (u == "m") n *= 60000
    printf "%.2f", n }'
}

# measure NAME URL [wrk args...]: warm-up (MEASURE_WARMUP, default WARMUP; 0s: none),
# then the measured run; sets RPS[NAME],
# P50[NAME], P99[NAME] (ms) and BAD[NAME] (non-2xx answers plus socket errors).
declare -A RPS=() P50=() P99=() BAD=()
measure() {
  local name=$1 url=$2
  shift 2
  local out="$BENCH_DIR/wrk-$name.txt"
  local warmup=${MEASURE_WARMUP:-$WARMUP}
  log "wrk $name: $url (warm-up $warmup, then $DURATION)"
  [[ "$warmup" == 0* ]] || wrk -t"$THREADS" -c"$CONNECTIONS" -d"$warmup" "$@" "$url" >/dev/null
  wrk -t"$THREADS" -c"$CONNECTIONS" -d"$DURATION" --latency "$@" "$url" >"$out"
  cat "$out" >>"$LOG_DIR/wrk.log"
  local rps p50 p99 non2xx sockerr
  rps=$(awk '/^Requests\/sec:/ { printf "%.0f", $2 }' "$out")
  p50=$(awk '$1 == "50%" { print $2 }' "$out")
  p99=$(awk '$1 == "99%" { print $2 }' "$out")
  non2xx=$(awk '/Non-2xx or 3xx responses:/ { print $NF }' "$out")
  sockerr=$(awk '/Socket errors:/ { gsub(/,/, ""); print $4 + $6 + $8 + $10 }' "$out")
  [[ -n "$rps" && -n "$p50" && -n "$p99" ]] || {
    cat "$out" >&2
    die "could not read wrk's output for $name"
  }
  if ((rps == 0)); then
    cat "$out" >&2
    die "$name: no request completed in $DURATION (see $url)"
  fi
  RPS[$name]=$rps
  P50[$name]=$(to_ms "$p50")
  P99[$name]=$(to_ms "$p99")
  BAD[$name]=$((${non2xx:-0} + ${sockerr:-0}))
}

# pid_of NAME BINARY: the pid start_process recorded for NAME (checked to run BINARY),
# else the process running BINARY.
pid_of() {
  local name=$1 binary=$2 i pid
  for ((i = 0; i < ${#PROC_NAMES[@]}; i++)); do
    [[ "${PROC_NAMES[$i]}" == "$name" ]] || continue
    pid=${PROC_PIDS[$i]}
    if [[ "$(readlink -f "/proc/$pid/exe" 2>/dev/null)" == "$(readlink -f "$binary")" ]]; then
      echo "$pid"
      return 0
    fi
  done
  pid=$(pgrep -f -o "^$binary( |\$)") || return 1
  echo "$pid"
}
