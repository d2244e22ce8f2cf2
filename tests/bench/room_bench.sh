#!/usr/bin/env bash
# `make bench`, part seven: room transitions (issue 7).
#
# Sets up, through the API, BENCH_ROOM_ROOMS (16) rooms with one examiner and one
# candidate each (registered, verified, on the roster, journey done, verified for the
# room, entered), then:
#   transitions  wrk, one connection per room, each alternating :invite and :defer of its
#                candidate: every request one transition (the room row locked, status,
#                events and the audit entry written in one PostgreSQL transaction, the
#                Redis lobby snapshot replaced by the Lua script)
#   baseline     redis-benchmark running that same Lua script (read from
#                services/waiting_room/live_state.cc) with a one-candidate snapshot,
#                on the same Redis, with as many clients
# The figure is the ratio.
#
# Settings: BENCH_DURATION (10s), BENCH_WARMUP (2s), BENCH_ROOM_ROOMS (16),
# BENCH_ROOM_RESULTS (tests/bench/results/room-latest.md).
set -euo pipefail

# shellcheck source=tests/bench/bench_lib.sh
. "$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)/bench_lib.sh"
RESULTS=${BENCH_ROOM_RESULTS:-$ADMISSIONS_ROOT/tests/bench/results/room-latest.md}
ROOMS=${BENCH_ROOM_ROOMS:-16}
REDIS_PORT=${REDIS_URL##*:}

# valid_id N: a resident ID number with a valid GB 11643 check digit, distinct per N.
valid_id() {
  awk -v n="$1" 'BEGIN {
    split("7 9 10 5 8 4 2 1 6 3 7 9 10 5 8 4 2", w, " ")
    id = sprintf("1101051985%02d%02d%03d", int(n / 28) % 12 + 1, n % 28 + 1, 100 + n % 900)
    s = 0
    for (k = 1; k <= 17; k++) s += substr(id, k, 1) * w[k]
    printf "%s%s", id, substr("10X98765432", s % 11 + 1, 1) }'
}

# verify TOKEN PURPOSE [ROOM]: a PASSED verification through the QR scan and the simulator.
verify() {
  local body
  body=$(jq -nc --arg p "$2" --arg r "${3:-}" '{purpose: $p} + (if $r == "" then {} else {roomId: $r} end)')
  local v
  v=$(authed POST /v1/verifications "$1" "$body")
  authed POST /v1/verifications:scan "$1" "$(jq -c '{qrPayload}' <<<"$v")" >/dev/null
  api POST "/v1/dev/verifications/$(jq -r .verificationId <<<"$v"):complete" '{"passed":true}' \
    >/dev/null
  jq -r .verificationId <<<"$v"
}

clear_rate_limits() {
  redis-cli -p "$REDIS_PORT" --scan --pattern 'rl:*' | xargs -r redis-cli -p "$REDIS_PORT" DEL \
    >/dev/null
}

OP=$(operator_token)
SCHOOL=$(authed POST /v1/admin/schools "$OP" '{"code":"BENCHROOM","name":"Bench University"}' |
  jq -r .schoolId)
now=$(date -u +%s)
EXAM=$(authed POST /v1/admin/exams "$OP" "$(jq -nc --arg s "$SCHOOL" \
  '{schoolId: $s, title: "room bench", feeCents: 0, mode: "SINGLE_CAMERA",
    commitmentText: "bench"}')" | jq -r .examId)
EXAMINER=$(authed POST /v1/admin/staff "$OP" "$(jq -nc --arg s "$SCHOOL" \
  '{schoolId: $s, role: "EXAMINER", login: "bench-room-examiner", password: "bench-examiner-pass",
    name: "Bench Examiner"}')" | jq -r .accountId)
EXAMINER_TOKEN=$(api POST /v1/sessions \
  '{"login":"bench-room-examiner","password":"bench-examiner-pass"}' | jq -r .accessToken)

log "registering $ROOMS candidates and taking them into $ROOMS rooms"
declare -a TOKENS=() IDS=() ACCOUNTS=()
csv="name,idType,idNumber,gender,major,direction"
for ((i = 0; i < ROOMS; i++)); do
  clear_rate_limits
  phone=$(printf '1390000%04d' "$i")
  id=$(valid_id "$i")
  api POST /v1/sms-codes "$(jq -nc --arg p "$phone" '{phone: $p, purpose: "REGISTER"}')" >/dev/null
  code=$(api GET "/v1/dev/sms-outbox?phone=$phone" | jq -r '.messages | last | .code')
  api POST /v1/accounts "$(jq -nc --arg p "$phone" --arg c "$code" --arg id "$id" \
    '{phone: $p, smsCode: $c, password: "bench-password-1", name: "张三", idType: "RESIDENT_ID",
      idNumber: $id}')" >/dev/null
  login() { api POST /v1/sessions "$(jq -nc --arg l "$phone" '{login: $l, password: "bench-password-1"}')"; }
  t=$(login | jq -r .accessToken)
  version=$(authed GET /v1/agreement "$t" | jq -r .version)
  authed POST /v1/agreement:accept "$t" "{\"version\":$version}" >/dev/null
  verify "$t" ACCOUNT >/dev/null
  t=$(login | jq -r .accessToken)
  notice=$(authed GET /v1/notice "$t" | jq -r .version)
  authed POST /v1/notice:read "$t" "{\"version\":$notice}" >/dev/null
  TOKENS+=("$t")
  IDS+=("$id")
  ACCOUNTS+=("$(authed GET /v1/me "$t" | jq -r .accountId)")
  csv+=$'\n'"张三,RESIDENT_ID,$id,男,计算机,人工智能"
done
curl -fsS -X POST -H "Authorization: Bearer $OP" -H 'Content-Type: text/csv' \
  --data-binary "$csv"$'\n' "$GATEWAY_URL/v1/admin/exams/$EXAM/roster" | jq -e '.imported' >/dev/null ||
  die "roster import failed"
: >"$BENCH_DIR/targets.txt"
for ((i = 0; i < ROOMS; i++)); do
  t=${TOKENS[$i]}
  authed POST "/v1/exams/$EXAM/admission:confirm" "$t" >/dev/null
  version=$(authed GET "/v1/exams/$EXAM/commitment" "$t" | jq -r .version)
  authed POST "/v1/exams/$EXAM/commitment:sign" "$t" "{\"version\":$version}" >/dev/null
  room=$(authed POST "/v1/admin/exams/$EXAM/rooms" "$OP" "$(jq -nc --arg e "$EXAMINER" \
    --arg a "$(ts "$now")" --arg b "$(ts $((now + 86400)))" --arg n "room $i" \
    '{name: $n, startsAt: $a, endsAt: $b, examinerIds: [$e]}')" | jq -r .roomId)
  authed POST "/v1/admin/rooms/$room/assignments" "$OP" "{\"idNumber\":\"${IDS[$i]}\"}" >/dev/null
  clear_rate_limits
  vid=$(verify "$t" ROOM "$room")
  authed POST "/v1/rooms/$room:enter" "$t" "{\"verificationId\":\"$vid\"}" >/dev/null
  echo "$room ${ACCOUNTS[$i]}" >>"$BENCH_DIR/targets.txt"
done

export ROOM_TARGETS="$BENCH_DIR/targets.txt" ROOM_TOKEN="$EXAMINER_TOKEN"
MEASURE_WARMUP=0s THREADS=$ROOMS CONNECTIONS=$ROOMS measure transitions "$GATEWAY_URL/" \
  -s "$ADMISSIONS_ROOT/tests/bench/room.lua"

# The baseline: the same Lua script under redis-benchmark, one-candidate snapshots.
lua=$(sed -n '/kInstall\[\] = R"lua(/,/)lua";/p' "$ADMISSIONS_ROOT/services/waiting_room/live_state.cc" |
  sed '1d;$d')
[[ -n "$lua" ]] || die "could not read the lobby script from live_state.cc"
sha=$(redis-cli -p "$REDIS_PORT" SCRIPT LOAD "$lua")
secs=${DURATION%s}
requests=$((secs * 20000))
log "redis-benchmark: EVALSHA of the lobby script, $ROOMS clients, $requests requests"
redis-benchmark -p "$REDIS_PORT" -c "$ROOMS" -n "$requests" -r 1000000 -q \
  EVALSHA "$sha" 3 "{room:__rand_int__}:meta" "{room:__rand_int__}:lobby" \
  "{room:__rand_int__}:presence" __rand_int__ 9999999999999 \
  9 last_event_id 42 exam_id e school_id s name n starts_at 1 ends_at 2 hide_wait_estimate 0 \
  finished_count 0 finished_total_ms 0 1 1 "2|a|张三|1101**********002X|0|1" a \
  >"$BENCH_DIR/redis-benchmark.txt" 2>&1 || {
  cat "$BENCH_DIR/redis-benchmark.txt" >&2
  die "redis-benchmark failed"
}
baseline=$(tr '\r' '\n' <"$BENCH_DIR/redis-benchmark.txt" |
  awk '/requests per second/ { for (i = 1; i <= NF; i++) if ($i ~ /^[0-9.]+$/) v = $i } END { printf "%.0f", v }')
[[ -n "$baseline" && "$baseline" != 0 ]] || die "could not read redis-benchmark's output"

# Every transition is on the record: the audit has at least as many entries.
audit=$("$(pg_bin_dir)/psql" -X -qtA "$PG_URI" -c "SELECT count(*) FROM waiting_room.audit_log" 2>/dev/null ||
  echo "?")

r=$(ratio "${RPS[transitions]}" "$baseline")
mkdir -p "$(dirname "$RESULTS")"
{
  echo "# Benchmark: room transitions"
  echo
  describe_run
  echo
  echo
  echo "wrk -t$ROOMS -c$ROOMS -d$DURATION (no warm-up: a cycle must start at WAITING), one room per connection,"
  echo ":invite and :defer alternating; redis-benchmark -c $ROOMS -n $requests of the lobby"
  echo "script. wrk, the gateway, the services, PostgreSQL (fsync on) and Redis share this machine."
  echo
  echo "| measure | value |"
  echo "|---|---:|"
  echo "| transitions through the gateway | ${RPS[transitions]}/s (p50 ${P50[transitions]} ms, p99 ${P99[transitions]} ms) |"
  echo "| baseline: the lobby Lua script alone (redis-benchmark) | $baseline/s |"
  echo "| audit entries after the run | $audit |"
  echo
  echo "| ratio | value |"
  echo "|---|---:|"
  echo "| transitions ÷ Lua script alone | $r |"
} >"$RESULTS.tmp"
mv "$RESULTS.tmp" "$RESULTS"
echo
cat "$RESULTS"
echo
log "written to ${RESULTS#"$ADMISSIONS_ROOT"/}"
if ((BAD[transitions] > 0)); then
  cat "$BENCH_DIR/wrk-transitions.txt" >&2
  die "${BAD[transitions]} transitions were refused; the figures are not valid"
fi
