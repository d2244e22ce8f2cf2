#!/usr/bin/env bash
# `make bench`, part two: logins at saturation (issue 3).
#
# Measures, in one run on this machine:
#   ceiling    Argon2id verifies/s of `pwhash-ceiling` with identity's parameters and
#              as many threads as identity's hashing pool (IDENTITY_HASH_THREADS)
#   login      POST /v1/sessions/s at saturation through the gateway (wrk, 16
#              connections, one account)
#   /healthz   p99 with 4 connections, first alone, then while logins saturate
# Goals: login >= 0.8x ceiling; /healthz p99 under login load <= 2x its p99 alone
# (hashing runs on a small low-priority pool and must not starve the rest).
#
# Settings: BENCH_DURATION (10s), BENCH_WARMUP (2s),
# BENCH_LOGIN_RESULTS (tests/bench/results/login-latest.md), BENCH_ENFORCE_GOALS=1.
set -euo pipefail

# shellcheck source=tests/bench/bench_lib.sh
. "$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)/bench_lib.sh"
RESULTS=${BENCH_LOGIN_RESULTS:-$ADMISSIONS_ROOT/tests/bench/results/login-latest.md}

register_and_login

cores=$(nproc)
HASH_THREADS=${IDENTITY_HASH_THREADS:-$((cores > 1 ? cores - 1 : 1))}
seconds=${DURATION%s}

LUA="$BENCH_DIR/login.lua"
printf '%s\n' 'wrk.method = "POST"' \
  "wrk.body = '{\"login\":\"$PHONE\",\"password\":\"$PASSWORD\"}'" \
  'wrk.headers["Content-Type"] = "application/json"' >"$LUA"

THREADS=1 CONNECTIONS=4 measure healthz_alone "$GATEWAY_URL/healthz"

log "pwhash-ceiling: $HASH_THREADS thread(s) for ${seconds}s"
CEILING=$("$BUILD_DIR/tests/bench/pwhash-ceiling" "$HASH_THREADS" "$seconds")

THREADS=1 CONNECTIONS=16 measure login "$GATEWAY_URL/v1/sessions" -s "$LUA"

log "logins in the background while /healthz is measured"
wrk -t1 -c16 -d"$((seconds + 4))s" -s "$LUA" "$GATEWAY_URL/v1/sessions" \
  >"$BENCH_DIR/wrk-login-background.txt" &
background=$!
sleep 1
THREADS=1 CONNECTIONS=4 measure healthz_loaded "$GATEWAY_URL/healthz"
wait "$background" || true
login_bad=$(awk '/Non-2xx or 3xx responses:/ { print $NF }' "$BENCH_DIR/wrk-login-background.txt")

r_login=$(ratio "${RPS[login]}" "$CEILING")
r_p99=$(ratio "${P99[healthz_loaded]}" "${P99[healthz_alone]}")
v_login=$(verdict "$r_login" 0.8)
v_p99=$(awk -v r="$r_p99" 'BEGIN { print (r + 0 <= 2) ? "met" : "MISSED" }')

mkdir -p "$(dirname "$RESULTS")"
{
  echo "# Benchmark: logins at saturation"
  echo
  describe_run
  echo
  echo
  echo "Identity hashes passwords on $HASH_THREADS low-priority thread(s) (Argon2id, t=2,"
  echo "m=19 MiB). wrk, the gateway, identity, PostgreSQL and Redis share this machine."
  echo
  echo "| measure | value |"
  echo "|---|---:|"
  echo "| Argon2id verifies/s, $HASH_THREADS thread(s) (\`pwhash-ceiling\`) | $CEILING |"
  echo "| \`POST /v1/sessions\`/s at saturation (wrk -t1 -c16) | ${RPS[login]} (p99 ${P99[login]} ms) |"
  echo "| \`GET /healthz\` p99 alone (wrk -t1 -c4) | ${P99[healthz_alone]} ms |"
  echo "| \`GET /healthz\` p99 while logins saturate | ${P99[healthz_loaded]} ms |"
  echo
  echo "| ratio | value | goal |"
  echo "|---|---:|---|"
  echo "| logins ÷ hash ceiling | $r_login | ≥ 0.8: $v_login |"
  echo "| /healthz p99 loaded ÷ alone | $r_p99 | ≤ 2: $v_p99 |"
} >"$RESULTS.tmp"
mv "$RESULTS.tmp" "$RESULTS"
echo
cat "$RESULTS"
echo
log "written to ${RESULTS#"$ADMISSIONS_ROOT"/}"

if ((BAD[login] + BAD[healthz_alone] + BAD[healthz_loaded] + ${login_bad:-0} > 0)); then
  die "some requests failed; the figures are not valid"
fi
if [[ "${BENCH_ENFORCE_GOALS:-0}" == 1 && ("$v_login" != met || "$v_p99" != met) ]]; then
  die "a goal was missed"
fi
