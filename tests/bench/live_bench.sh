#!/usr/bin/env bash
# `make bench`, part six: the live channel (issue 7).
#
# Sets up, through the API, one examiner and BENCH_LIVE_ROOMS (100) rooms of one exam,
# all of them that examiner's, then runs tests/bench/live_bench.cc: BENCH_LIVE_SUBSCRIBERS
# (2000) WebSocket connections to GET /v1/live, spread evenly over the rooms, all idle
# and subscribed; then BENCH_LIVE_MESSAGES (200) group messages, one room after another,
# each timed from just before its POST until the last subscriber of its room has it;
# then as many Redis PUBLISH → SUBSCRIBE round trips on the same Redis, the baseline.
# Also the gateway's RSS before and with every subscriber connected: memory per idle
# subscriber.
#
# Goals (issue 7): memory per idle subscriber ≤ 16 KiB. The fan-out latency is reported
# against the Redis round trip (no goal is set for it).
#
# Settings: BENCH_LIVE_ROOMS (100), BENCH_LIVE_SUBSCRIBERS (2000), BENCH_LIVE_MESSAGES
# (200), BENCH_LIVE_RESULTS (tests/bench/results/live-latest.md), BENCH_ENFORCE_GOALS=1.
set -euo pipefail

# shellcheck source=tests/bench/bench_lib.sh
. "$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)/bench_lib.sh"
RESULTS=${BENCH_LIVE_RESULTS:-$ADMISSIONS_ROOT/tests/bench/results/live-latest.md}
ROOMS=${BENCH_LIVE_ROOMS:-100}
SUBSCRIBERS=${BENCH_LIVE_SUBSCRIBERS:-2000}
MESSAGES=${BENCH_LIVE_MESSAGES:-200}

# 2,000 sockets in the load generator and as many in the gateway.
ulimit -n 65536 2>/dev/null || ulimit -n "$(ulimit -Hn)"

OP=$(operator_token)
[[ -n "$OP" && "$OP" != null ]] || die "operator login answered no accessToken"
SCHOOL=$(authed POST /v1/admin/schools "$OP" '{"code":"BENCHLIVE","name":"Bench University"}' |
  jq -r .schoolId)
now=$(date -u +%s)
EXAM=$(authed POST /v1/admin/exams "$OP" "$(jq -nc --arg s "$SCHOOL" \
  '{schoolId: $s, title: "live bench", feeCents: 0, mode: "SINGLE_CAMERA",
    commitmentText: "bench"}')" | jq -r .examId)
EXAMINER=$(authed POST /v1/admin/staff "$OP" "$(jq -nc --arg s "$SCHOOL" \
  '{schoolId: $s, role: "EXAMINER", login: "bench-examiner", password: "bench-examiner-pass",
    name: "Bench Examiner"}')" | jq -r .accountId)
TOKEN=$(api POST /v1/sessions '{"login":"bench-examiner","password":"bench-examiner-pass"}' |
  jq -r .accessToken)
[[ -n "$TOKEN" && "$TOKEN" != null ]] || die "examiner login answered no accessToken"

log "creating $ROOMS rooms"
: >"$BENCH_DIR/rooms.txt"
for ((i = 1; i <= ROOMS; i++)); do
  authed POST "/v1/admin/exams/$EXAM/rooms" "$OP" "$(jq -nc --arg e "$EXAMINER" \
    --arg a "$(ts "$now")" --arg b "$(ts $((now + 86400)))" --arg n "room $i" \
    '{name: $n, startsAt: $a, endsAt: $b, examinerIds: [$e]}')" | jq -r .roomId \
    >>"$BENCH_DIR/rooms.txt"
done

GW_PID=$(pid_of gateway "$BUILD_DIR/$GATEWAY_BINARY") || die "gateway process not found"
log "live-bench: $SUBSCRIBERS subscribers over $ROOMS rooms, $MESSAGES messages"
"$BUILD_DIR/tests/bench/live-bench" --gateway="${GATEWAY_URL#http://}" --token="$TOKEN" \
  --rooms="$BENCH_DIR/rooms.txt" --subscribers="$SUBSCRIBERS" --messages="$MESSAGES" \
  --redis="${REDIS_URL#redis://}" --gateway_pid="$GW_PID" >"$BENCH_DIR/live.txt" ||
  die "live-bench failed"
get() { awk -v k="$1" '$1 == k { print $2 }' "$BENCH_DIR/live.txt"; }

r50=$(ratio "$(get fanout_p50_ms)" "$(get redis_p50_ms)")
r99=$(ratio "$(get fanout_p99_ms)" "$(get redis_p99_ms)")
per=$(printf '%.1f' "$(get kib_per_idle_subscriber)")
v_mem=$(awk -v p="$per" 'BEGIN { print (p <= 16) ? "met" : "MISSED" }')
mkdir -p "$(dirname "$RESULTS")"
{
  echo "# Benchmark: the live channel"
  echo
  describe_run
  echo
  echo
  echo "$SUBSCRIBERS WebSocket subscribers (one load-generator thread) over $ROOMS rooms;"
  echo "$MESSAGES group messages, one at a time; the load generator, the gateway,"
  echo "waiting-room, PostgreSQL and Redis share this machine."
  echo
  echo "| measure | value |"
  echo "|---|---:|"
  echo "| connecting and subscribing every subscriber | $(get connect_seconds) s |"
  echo "| group message → last subscriber of its room, p50 / p99 | $(get fanout_p50_ms) / $(get fanout_p99_ms) ms |"
  echo "| Redis PUBLISH → SUBSCRIBE, p50 / p99 | $(get redis_p50_ms) / $(get redis_p99_ms) ms |"
  echo "| gateway RSS before / with every subscriber idle | $(get gateway_rss_before_kib) / $(get gateway_rss_idle_kib) KiB |"
  echo
  echo "| ratio | value | goal |"
  echo "|---|---:|---|"
  echo "| fan-out ÷ Redis round trip, p50 | $r50 | |"
  echo "| fan-out ÷ Redis round trip, p99 | $r99 | |"
  echo "| gateway memory per idle subscriber | $per KiB | ≤ 16 KiB: $v_mem |"
} >"$RESULTS.tmp"
mv "$RESULTS.tmp" "$RESULTS"
echo
cat "$RESULTS"
echo
log "written to ${RESULTS#"$ADMISSIONS_ROOT"/}"
if [[ "${BENCH_ENFORCE_GOALS:-0}" == 1 && "$v_mem" != met ]]; then
  die "a goal was missed"
fi
