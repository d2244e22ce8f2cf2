#!/usr/bin/env bash
# `make bench`, part eight: the interview's signal relay (issue 8).
#
# Sets up, through the API, one room of one exam with an examiner and a candidate
# (registered, verified, on the roster, journey done, verified for the room, entered,
# invited, accepted: INTERVIEWING), then runs tests/bench/signal_bench.cc: the candidate and
# the examiner each join the interview session over GET /v1/live, and the examiner sends
# BENCH_SIGNAL_MESSAGES ICE candidates to the candidate at BENCH_SIGNAL_RATE a second (open
# loop, after BENCH_SIGNAL_WARMUP unmeasured ones), each carrying its send time: relay
# latency p50/p99/max, every message delivered once and in order. Then, in the same run,
# the baseline: as many Redis PUBLISH → SUBSCRIBE messages at the same rate on the same
# Redis. Then the relay once more at BENCH_SIGNAL_LOW_RATE (100; 0 skips it) with a tenth of
# the messages, to tell load from the path's own cost; and, closed loop, half the messages
# with BENCH_SIGNAL_WINDOW (64; 0 skips it) in flight at a time: how many signals a second
# one connection can get through at most.
#
# The gateway's signal throttle (50/s, bursts of 200 by default) is raised for this run to
# ten times the rate (the closed-loop run may go faster), with a burst of one second's
# messages, so that it never drops a message: GATEWAY_LIVE_SIGNAL_RATE_PER_SECOND and
# GATEWAY_LIVE_SIGNAL_BURST, which the gateway reads (set them to measure something else).
#
# Goal (issue 8): relay p99 ≤ 15 × the Redis round trip's p99 at 1,000 messages a second.
#
# Settings: BENCH_SIGNAL_MESSAGES (10000), BENCH_SIGNAL_RATE (1000), BENCH_SIGNAL_WARMUP
# (500), BENCH_SIGNAL_LOW_RATE (100), BENCH_SIGNAL_WINDOW (64), BENCH_SIGNAL_RESULTS
# (tests/bench/results/signal-latest.md), BENCH_SIGNAL_TRACE=PREFIX (each measured signal's
# number, send time and latency into PREFIX-RATE.txt and PREFIX-windowW.txt),
# BENCH_SIGNAL_QUICKACK=1 (a diagnosis: the receiving client acknowledges every read at
# once, TCP_QUICKACK, instead of delaying its ACKs as browsers do), BENCH_ENFORCE_GOALS=1.
set -euo pipefail

MESSAGES=${BENCH_SIGNAL_MESSAGES:-10000}
RATE=${BENCH_SIGNAL_RATE:-1000}
WARMUP_MESSAGES=${BENCH_SIGNAL_WARMUP:-500}
LOW_RATE=${BENCH_SIGNAL_LOW_RATE:-100}
WINDOW=${BENCH_SIGNAL_WINDOW:-64}
# Read by the gateway that bench_lib.sh starts.
export GATEWAY_LIVE_SIGNAL_RATE_PER_SECOND=${GATEWAY_LIVE_SIGNAL_RATE_PER_SECOND:-$((10 * RATE))}
export GATEWAY_LIVE_SIGNAL_BURST=${GATEWAY_LIVE_SIGNAL_BURST:-$RATE}

# shellcheck source=tests/bench/bench_lib.sh
. "$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)/bench_lib.sh"
RESULTS=${BENCH_SIGNAL_RESULTS:-$ADMISSIONS_ROOT/tests/bench/results/signal-latest.md}
REDIS_PORT=${REDIS_URL##*:}

# verify TOKEN PURPOSE [ROOM]: a PASSED verification through the QR scan and the simulator.
verify() {
  local body v
  body=$(jq -nc --arg p "$2" --arg r "${3:-}" '{purpose: $p} + (if $r == "" then {} else {roomId: $r} end)')
  v=$(authed POST /v1/verifications "$1" "$body")
  authed POST /v1/verifications:scan "$1" "$(jq -c '{qrPayload}' <<<"$v")" >/dev/null
  api POST "/v1/dev/verifications/$(jq -r .verificationId <<<"$v"):complete" '{"passed":true}' \
    >/dev/null
  jq -r .verificationId <<<"$v"
}

log "setting up an interview: a school, an exam, an examiner, a candidate, a room"
OP=$(operator_token)
[[ -n "$OP" && "$OP" != null ]] || die "operator login answered no accessToken"
SCHOOL=$(authed POST /v1/admin/schools "$OP" '{"code":"BENCHSIG","name":"Bench University"}' |
  jq -r .schoolId)
now=$(date -u +%s)
EXAM=$(authed POST /v1/admin/exams "$OP" "$(jq -nc --arg s "$SCHOOL" \
  '{schoolId: $s, title: "signal bench", feeCents: 0, mode: "SINGLE_CAMERA",
    commitmentText: "bench"}')" | jq -r .examId)
EXAMINER=$(authed POST /v1/admin/staff "$OP" "$(jq -nc --arg s "$SCHOOL" \
  '{schoolId: $s, role: "EXAMINER", login: "bench-signal-examiner",
    password: "bench-examiner-pass", name: "Bench Examiner"}')" | jq -r .accountId)
EXAMINER_TOKEN=$(api POST /v1/sessions \
  '{"login":"bench-signal-examiner","password":"bench-examiner-pass"}' | jq -r .accessToken)
[[ -n "$EXAMINER_TOKEN" && "$EXAMINER_TOKEN" != null ]] || die "examiner login answered no accessToken"

register_and_login # PHONE, PASSWORD, TOKEN (the candidate, ID 11010519491231002X)
ID_NUMBER=11010519491231002X
candidate_login() {
  api POST /v1/sessions "$(jq -nc --arg l "$PHONE" --arg pw "$PASSWORD" '{login: $l, password: $pw}')" |
    jq -r .accessToken
}
version=$(authed GET /v1/agreement "$TOKEN" | jq -r .version)
authed POST /v1/agreement:accept "$TOKEN" "{\"version\":$version}" >/dev/null
verify "$TOKEN" ACCOUNT >/dev/null
TOKEN=$(candidate_login) # A token that carries the passed gates.
notice=$(authed GET /v1/notice "$TOKEN" | jq -r .version)
authed POST /v1/notice:read "$TOKEN" "{\"version\":$notice}" >/dev/null
CANDIDATE=$(authed GET /v1/me "$TOKEN" | jq -r .accountId)
curl -fsS -X POST -H "Authorization: Bearer $OP" -H 'Content-Type: text/csv' \
  --data-binary $'name,idType,idNumber,gender,major,direction\n张三,RESIDENT_ID,'"$ID_NUMBER"$',男,计算机,人工智能\n' \
  "$GATEWAY_URL/v1/admin/exams/$EXAM/roster" | jq -e '.imported' >/dev/null || die "roster import failed"
authed POST "/v1/exams/$EXAM/admission:confirm" "$TOKEN" >/dev/null
version=$(authed GET "/v1/exams/$EXAM/commitment" "$TOKEN" | jq -r .version)
authed POST "/v1/exams/$EXAM/commitment:sign" "$TOKEN" "{\"version\":$version}" >/dev/null
ROOM=$(authed POST "/v1/admin/exams/$EXAM/rooms" "$OP" "$(jq -nc --arg e "$EXAMINER" \
  --arg a "$(ts "$now")" --arg b "$(ts $((now + 86400)))" \
  '{name: "signal bench room", startsAt: $a, endsAt: $b, examinerIds: [$e]}')" | jq -r .roomId)
authed POST "/v1/admin/rooms/$ROOM/assignments" "$OP" \
  "{\"idNumber\":\"$ID_NUMBER\",\"sequence\":1}" >/dev/null
redis-cli -p "$REDIS_PORT" --scan --pattern 'rl:*' | xargs -r redis-cli -p "$REDIS_PORT" DEL >/dev/null
vid=$(verify "$TOKEN" ROOM "$ROOM")
authed POST "/v1/rooms/$ROOM:enter" "$TOKEN" "{\"verificationId\":\"$vid\"}" >/dev/null
authed POST "/v1/examiner/rooms/$ROOM/candidates/$CANDIDATE:invite" "$EXAMINER_TOKEN" >/dev/null
INTERVIEW=$(authed POST "/v1/rooms/$ROOM/invitation:accept" "$TOKEN" | jq -r '.interviewId // empty')
[[ -n "$INTERVIEW" ]] || die "accepting the invitation answered no interviewId"
log "interview $INTERVIEW in room $ROOM"

GW_PID=$(pid_of gateway "$BUILD_DIR/$GATEWAY_BINARY") || die "gateway process not found"
MS_PID=$(pid_of media-signaling "$BUILD_DIR/services/media_signaling/media-signaling-service") ||
  die "media-signaling process not found"
RD_PID=$(redis_pid "$BENCH_DIR/redis") || RD_PID=0

# run_bench OUT RATE MESSAGES WARMUP [WINDOW]: one signal-bench run, its key/value lines in
# OUT.
run_bench() {
  local out=$1 rate=$2 messages=$3 warmup=$4 window=${5:-0} tag=$2
  ((window == 0)) || tag="window$window"
  if ((window > 0)); then
    log "signal-bench: $warmup + $messages signals, $window in flight at a time"
  else
    log "signal-bench: $warmup + $messages signals at $rate/s, then as many Redis messages"
  fi
  "$BUILD_DIR/tests/bench/signal-bench" --gateway="${GATEWAY_URL#http://}" --room="$ROOM" \
    --sender_token="$EXAMINER_TOKEN" --receiver_token="$TOKEN" --redis="${REDIS_URL#redis://}" \
    --messages="$messages" --rate="$rate" --warmup="$warmup" --window="$window" --gateway_pid="$GW_PID" \
    --service_pid="$MS_PID" --redis_pid="$RD_PID" \
    ${BENCH_SIGNAL_TRACE:+--trace="$BENCH_SIGNAL_TRACE-$tag.txt"} \
    ${BENCH_SIGNAL_QUICKACK:+--quickack} >"$out" ||
    warn "signal-bench at $rate/s: the run is not valid (see above)"
  [[ -n "$(awk '$1 == "valid"' "$out")" ]] || die "signal-bench at $rate/s failed"
  cat "$out" >>"$LOG_DIR/signal-bench.log"
}
LOADAVG=$(cut -d' ' -f1-3 /proc/loadavg)
run_bench "$BENCH_DIR/signal.txt" "$RATE" "$MESSAGES" "$WARMUP_MESSAGES"
if ((LOW_RATE > 0)); then
  run_bench "$BENCH_DIR/signal-low.txt" "$LOW_RATE" $((MESSAGES / 10)) $((WARMUP_MESSAGES / 10))
fi
if ((WINDOW > 0)); then
  run_bench "$BENCH_DIR/signal-window.txt" "$RATE" $((MESSAGES / 2)) $((WARMUP_MESSAGES / 10)) \
    "$WINDOW"
fi

get() { awk -v k="$1" '$1 == k { print $2 }' "${2:-$BENCH_DIR/signal.txt}"; }
# delivery OUT: how the run's messages arrived, "valid" or what went wrong.
delivery() {
  local out=${1:-$BENCH_DIR/signal.txt}
  if [[ "$(get valid "$out")" == 1 ]]; then
    echo "all $(get relay_sent "$out") delivered once, in order"
  else
    echo "**INVALID**: $(get relay_delivered "$out") of $(get relay_sent "$out") delivered, $(get relay_skipped "$out") skipped, $(get relay_out_of_order "$out") out of order, $(get relay_errors "$out") errors (RATE_LIMITED)"
  fi
}
ms() { printf '%.3f' "$(get "$@")"; }
pct() {
  local v
  v=$(get "$@")
  if [[ -n "$v" ]]; then printf '%.0f %%' "$v"; else echo "?"; fi
}

r50=$(ratio "$(get relay_p50_ms)" "$(get redis_p50_ms)")
r99=$(ratio "$(get relay_p99_ms)" "$(get redis_p99_ms)")
v99=$(awk -v r="$r99" 'BEGIN { print (r != "n/a" && r + 0 <= 15) ? "met" : "MISSED" }')
valid=$(get valid)
[[ "$valid" == 1 ]] || v99="MISSED (and the run is not valid: messages were lost)"
mkdir -p "$(dirname "$RESULTS")"
{
  echo "# Benchmark: the interview's signal relay"
  echo
  describe_run
  echo
  echo
  echo "One examiner sends $MESSAGES ICE candidates (after $WARMUP_MESSAGES unmeasured) to the"
  echo "candidate at $RATE/s over GET /v1/live (gateway → media-signaling → Redis → media-signaling"
  echo "→ gateway); then as many Redis PUBLISH → SUBSCRIBE messages at the same rate. The load"
  echo "generator, the gateway, every service, PostgreSQL and Redis share this machine. Gateway"
  echo "throttle for the run: $GATEWAY_LIVE_SIGNAL_RATE_PER_SECOND/s, burst $GATEWAY_LIVE_SIGNAL_BURST. Load average"
  echo "before the run: $LOADAVG.${BENCH_SIGNAL_QUICKACK:+ The receiving client acknowledged every read at once (TCP_QUICKACK).}"
  echo
  echo "| measure | p50 ms | p99 ms | max ms |"
  echo "|---|---:|---:|---:|"
  echo "| relay, $RATE/s ($(delivery)) | $(ms relay_p50_ms) | $(ms relay_p99_ms) | $(ms relay_max_ms) |"
  echo "| Redis PUBLISH → SUBSCRIBE, $RATE/s | $(ms redis_p50_ms) | $(ms redis_p99_ms) | $(ms redis_max_ms) |"
  if [[ -s "$BENCH_DIR/signal-low.txt" ]]; then
    low=$BENCH_DIR/signal-low.txt
    echo "| relay, $LOW_RATE/s, $(get messages "$low") messages ($(delivery "$low")) | $(ms relay_p50_ms "$low") | $(ms relay_p99_ms "$low") | $(ms relay_max_ms "$low") |"
    echo "| Redis PUBLISH → SUBSCRIBE, $LOW_RATE/s | $(ms redis_p50_ms "$low") | $(ms redis_p99_ms "$low") | $(ms redis_max_ms "$low") |"
  fi
  if [[ -s "$BENCH_DIR/signal-window.txt" ]]; then
    win=$BENCH_DIR/signal-window.txt
    echo "| relay, closed loop, $WINDOW in flight: $(printf '%.0f' "$(get relay_throughput_per_s "$win")")/s ($(delivery "$win")) | $(ms relay_p50_ms "$win") | $(ms relay_p99_ms "$win") | $(ms relay_max_ms "$win") |"
  fi
  echo
  echo "| CPU during the $RATE/s relay (of one core) | value |"
  echo "|---|---:|"
  echo "| gateway | $(pct relay_cpu_gateway_percent) |"
  echo "| media-signaling | $(pct relay_cpu_media_signaling_percent) |"
  echo "| Redis | $(pct relay_cpu_redis_percent) |"
  echo "| signal-bench (both clients) | $(pct relay_cpu_self_percent) |"
  echo
  echo "| ratio | value | goal |"
  echo "|---|---:|---|"
  echo "| relay ÷ Redis round trip, p50 | $r50 | |"
  echo "| relay ÷ Redis round trip, p99 | $r99 | ≤ 15: $v99 |"
} >"$RESULTS.tmp"
mv "$RESULTS.tmp" "$RESULTS"
echo
cat "$RESULTS"
echo
log "written to ${RESULTS#"$ADMISSIONS_ROOT"/}"
low_valid=1
for f in "$BENCH_DIR/signal-low.txt" "$BENCH_DIR/signal-window.txt"; do
  if [[ -s "$f" && "$(get valid "$f")" != 1 ]]; then low_valid=0; fi
done
if [[ "$valid" != 1 || "$low_valid" != 1 ]]; then
  die "signaling messages were lost, refused or reordered: the figures are not valid"
fi
if [[ "${BENCH_ENFORCE_GOALS:-0}" == 1 && "$v99" != met ]]; then
  die "a goal was missed"
fi
