#!/usr/bin/env bash
# `make bench`: the gateway against nginx, on this machine, in one run.
#
# Starts a private PostgreSQL, Redis, every service and the gateway (development mode)
# on free ports in a temporary directory, and Debian's nginx serving a 100-byte
# `return 200` as the yardstick. Registers an account through the SMS outbox, logs in,
# then runs wrk against
#   nginx      what this machine can do for a trivial HTTP answer
#   /healthz   the gateway alone (no hop)
#   /v1/me     token checked at the gateway, one gRPC call to identity, PostgreSQL
# and prints requests/s, p50 and p99 of each with the ratios, into
# tests/bench/results/latest.md as well. Goals: /healthz >= 0.6x nginx, /v1/me >= 0.3x.
#
# Settings: BENCH_THREADS (2), BENCH_CONNECTIONS (64), BENCH_DURATION (10s),
# BENCH_WARMUP (2s), BENCH_RESULTS (tests/bench/results/latest.md),
# BENCH_ENFORCE_GOALS=1 to exit non-zero when a goal is missed.
set -euo pipefail

# shellcheck source=tests/bench/bench_lib.sh
. "$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)/bench_lib.sh"
RESULTS=${BENCH_RESULTS:-$ADMISSIONS_ROOT/tests/bench/results/latest.md}

start_nginx
register_and_login

measure nginx "$NGINX_URL"
measure healthz "$GATEWAY_URL/healthz"
measure me "$GATEWAY_URL/v1/me" -H "Authorization: Bearer $TOKEN"

r_health=$(ratio "${RPS[healthz]}" "${RPS[nginx]}")
r_me=$(ratio "${RPS[me]}" "${RPS[nginx]}")
r_me_health=$(ratio "${RPS[me]}" "${RPS[healthz]}")
v_health=$(verdict "$r_health" 0.6)
v_me=$(verdict "$r_me" 0.3)

mkdir -p "$(dirname "$RESULTS")"
{
  cat <<EOF
# Benchmark: gateway vs nginx

$(describe_run)

\`wrk -t$THREADS -c$CONNECTIONS -d$DURATION --latency\` after a $WARMUP warm-up, one target at a time;
wrk, nginx, the gateway, identity, PostgreSQL and Redis all share this machine.

| target | requests/s | p50 ms | p99 ms | errors |
|---|---:|---:|---:|---:|
| nginx \`return 200\` (100 bytes) | ${RPS[nginx]} | ${P50[nginx]} | ${P99[nginx]} | ${BAD[nginx]} |
| gateway \`GET /healthz\` (no hop) | ${RPS[healthz]} | ${P50[healthz]} | ${P99[healthz]} | ${BAD[healthz]} |
| gateway \`GET /v1/me\` (token check, one gRPC hop) | ${RPS[me]} | ${P50[me]} | ${P99[me]} | ${BAD[me]} |

| ratio of requests/s | value | goal |
|---|---:|---|
| /healthz ÷ nginx | $r_health | ≥ 0.6: $v_health |
| /v1/me ÷ nginx | $r_me | ≥ 0.3: $v_me |
| /v1/me ÷ /healthz | $r_me_health | |

Errors are non-2xx answers plus socket errors; a run with errors does not count.
EOF
} >"$RESULTS.tmp"
mv "$RESULTS.tmp" "$RESULTS"
echo
cat "$RESULTS"
echo
log "written to ${RESULTS#"$ADMISSIONS_ROOT"/}"

if ((BAD[nginx] + BAD[healthz] + BAD[me] > 0)); then
  die "some requests failed (see the errors column); the figures are not valid"
fi
if [[ "${BENCH_ENFORCE_GOALS:-0}" == 1 && ("$v_health" != met || "$v_me" != met) ]]; then
  die "a goal was missed"
fi
