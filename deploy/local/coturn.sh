# shellcheck shell=bash
# A private coturn (TURN/STUN server) for development and tests. Source it; it defines
# functions and runs nothing. It stands alone (it does not need lib.sh), so a test script
# can source it by itself.
#
#   start_coturn DIR PORT SECRET LOGFILE [MIN_PORT MAX_PORT]
#                                   coturn on 127.0.0.1:PORT (UDP and TCP), TURN REST
#                                   authentication with the shared SECRET, relay ports
#                                   MIN_PORT..MAX_PORT (default: the 64 ports after PORT),
#                                   turnserver.conf, pid file and SQLite file in DIR
#   stop_coturn DIR                 SIGTERM, SIGKILL after 10 s
#   coturn_pid DIR                  the running server's pid (fails when none runs)
#   turn_rest_credentials SECRET ACCOUNT EXPIRY
#                                   prints "username credential" as media-signaling hands
#                                   them out: "EXPIRY:ACCOUNT" and base64(HMAC-SHA1(SECRET,
#                                   username)); EXPIRY in epoch seconds
#
# The server only answers on 127.0.0.1 and relays between loopback addresses: what a test
# with several browsers on one machine needs. docs/turn.md says what production changes.

COTURN_BINARY=${COTURN_BINARY:-/usr/bin/turnserver}
COTURN_REALM=${COTURN_REALM:-admissions.local}

_coturn_log() { printf '==> %s\n' "$*" >&2; }

_coturn_alive() {
  local pid=$1 stat
  [[ -n "$pid" && -r "/proc/$pid/stat" ]] || return 1
  stat=$(<"/proc/$pid/stat") 2>/dev/null || return 1
  stat=${stat##*) }
  [[ "${stat%% *}" != "Z" ]]
}

# Whether process PID has a UDP socket and a TCP listener on 127.0.0.1:PORT.
_coturn_listening() {
  local pid=$1 port=$2
  ss -Hlunp "sport = :$port" 2>/dev/null | grep -q "pid=$pid," &&
    ss -Htlnp "sport = :$port" 2>/dev/null | grep -q "pid=$pid,"
}

_coturn_log_tail() {
  local file=$1
  printf -- '--- last 30 lines of coturn (%s) ---\n' "$file" >&2
  if [[ -r "$file" ]]; then tail -n 30 "$file" >&2; else echo "(no log)" >&2; fi
  printf -- '--- end of coturn ---\n' >&2
}

coturn_pid() {
  local pid
  pid=$(cat "$1/turnserver.pid" 2>/dev/null) || return 1
  _coturn_alive "$pid" && grep -q turnserver "/proc/$pid/cmdline" 2>/dev/null || return 1
  echo "$pid"
}

# start_coturn DIR PORT SECRET LOGFILE [MIN_PORT MAX_PORT]: writes DIR/turnserver.conf,
# starts turnserver in the background (its own session, so a Ctrl-C at the terminal reaches
# only the calling script) and waits until it listens on UDP and TCP (30 s, or
# COTURN_START_TIMEOUT). A server DIR still has from a killed run is stopped first.
start_coturn() {
  local dir=$1 port=$2 secret=$3 logfile=$4 min_port=${5:-} max_port=${6:-}
  if [[ -z "$dir" || -z "$port" || -z "$secret" || -z "$logfile" ]]; then
    echo "usage: start_coturn DIR PORT SECRET LOGFILE [MIN_PORT MAX_PORT]" >&2
    return 2
  fi
  if [[ ! -x "$COTURN_BINARY" ]]; then
    echo "error: $COTURN_BINARY not found (install the coturn package: deploy/local/install-deps.sh)" >&2
    return 1
  fi
  if [[ "$secret" == *$'\n'* || "$secret" == *' '* ]]; then
    echo "error: the TURN secret must be one word" >&2
    return 1
  fi
  if [[ -z "$min_port" ]]; then
    if ((port + 64 <= 65535)); then
      min_port=$((port + 1)) max_port=$((port + 64))
    else
      min_port=$((port - 64)) max_port=$((port - 1))
    fi
  fi
  mkdir -p "$dir"
  dir=$(cd "$dir" && pwd)
  mkdir -p "$(dirname "$logfile")"
  touch "$logfile"
  logfile="$(cd "$(dirname "$logfile")" && pwd)/$(basename "$logfile")"

  if coturn_pid "$dir" >/dev/null; then
    echo "warning: coturn of $dir was still running; stopping it" >&2
    stop_coturn "$dir"
  fi
  rm -f "$dir/turnserver.pid"

  # The secret sits in the file (coturn has no other way to take it but the command line,
  # which every user can read in /proc): readable by us only.
  (
    umask 077
    cat >"$dir/turnserver.conf" <<EOF
# Written by deploy/local/coturn.sh on each start; edits are lost.
listening-ip=127.0.0.1
listening-port=$port
relay-ip=127.0.0.1
min-port=$min_port
max-port=$max_port
# TURN REST credentials: username "expiry:accountId", password
# base64(HMAC-SHA1(secret, username)), refused once the expiry has passed.
use-auth-secret
static-auth-secret=$secret
realm=$COTURN_REALM
no-tls
no-dtls
no-cli
fingerprint
# Lets browsers on this machine relay to each other through 127.0.0.1. Production must NOT
# set it: it would let any TURN user reach services listening on the server's loopback.
allow-loopback-peers
no-multicast-peers
pidfile=$dir/turnserver.pid
# coturn opens a SQLite user database even with static secrets; keep it out of /var/lib/turn.
userdb=$dir/turndb
log-file=$logfile
simple-log
no-stdout-log
# Logs each refused request ("error 401: Unauthorized"): what the tests look for.
verbose
EOF
  )

  _coturn_log "starting coturn on 127.0.0.1:$port (relay ports $min_port-$max_port)"
  printf '\n=== %s start coturn: %s -c %s\n' "$(date -u +%FT%TZ)" "$COTURN_BINARY" \
    "$dir/turnserver.conf" >>"$logfile"
  if command -v setsid >/dev/null 2>&1; then
    setsid "$COTURN_BINARY" -c "$dir/turnserver.conf" </dev/null >>"$logfile" 2>&1 9>&- &
  else
    "$COTURN_BINARY" -c "$dir/turnserver.conf" </dev/null >>"$logfile" 2>&1 9>&- &
  fi
  local pid=$!
  local deadline=$((SECONDS + ${COTURN_START_TIMEOUT:-30}))
  until _coturn_listening "$pid" "$port"; do
    if ! _coturn_alive "$pid"; then
      echo "error: coturn exited during start-up" >&2
      _coturn_log_tail "$logfile"
      return 1
    fi
    if ((SECONDS >= deadline)); then
      echo "error: coturn did not listen on 127.0.0.1:$port in time" >&2
      _coturn_log_tail "$logfile"
      kill -KILL "$pid" 2>/dev/null || true
      return 1
    fi
    sleep 0.1
  done
  # coturn writes the same pid itself; written here too so that stop_coturn never waits on it.
  echo "$pid" >"$dir/turnserver.pid"
}

# stop_coturn DIR: SIGTERM, SIGKILL after 10 s. Nothing to do when none runs.
stop_coturn() {
  local dir=$1 pid
  pid=$(coturn_pid "$dir") || return 0
  _coturn_log "stopping coturn ($dir)"
  kill -TERM "$pid" 2>/dev/null || return 0
  local deadline=$((SECONDS + 10))
  while _coturn_alive "$pid"; do
    if ((SECONDS >= deadline)); then
      echo "warning: coturn did not stop in 10s; killing it" >&2
      kill -KILL "$pid" 2>/dev/null || true
      break
    fi
    sleep 0.1
  done
  wait "$pid" 2>/dev/null || true
  rm -f "$dir/turnserver.pid"
}

# turn_rest_credentials SECRET ACCOUNT EXPIRY: prints "username credential".
turn_rest_credentials() {
  local secret=$1 account=$2 expiry=$3 username
  username="$expiry:$account"
  printf '%s %s\n' "$username" \
    "$(printf '%s' "$username" | openssl dgst -sha1 -hmac "$secret" -binary | base64)"
}
