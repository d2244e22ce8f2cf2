#!/usr/bin/env bash
# `make bench`, part three: enrollment (issue 4).
#
# Measures, in one run on this machine:
#   roster     lines/s of one 50,000-line roster import through the gateway (curl), first
#              import and re-import (every line an update)
#   /v1/me     GET /v1/me/s (gateway, one gRPC hop to identity, one PostgreSQL read)
#   journey    GET /v1/exams/{id}/journey/s for an exam with a fee and materials (gateway,
#              enrollment, identity's GetGateState, one enrollment query)
# Goal: journey throughput >= 1/3 of /v1/me's (its cost within 3x a single-hop call).
#
# Settings: BENCH_DURATION (10s), BENCH_WARMUP (2s), BENCH_THREADS (2),
# BENCH_CONNECTIONS (64), BENCH_ROSTER_LINES (50000),
# BENCH_ENROLLMENT_RESULTS (tests/bench/results/enrollment-latest.md), BENCH_ENFORCE_GOALS=1.
set -euo pipefail

# shellcheck source=tests/bench/bench_lib.sh
. "$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)/bench_lib.sh"
RESULTS=${BENCH_ENROLLMENT_RESULTS:-$ADMISSIONS_ROOT/tests/bench/results/enrollment-latest.md}
LINES=${BENCH_ROSTER_LINES:-50000}

register_and_login

OP=$(api POST /v1/sessions '{"login":"operator","password":"operator-dev-pass"}' | jq -r .accessToken)
SCHOOL=$(authed POST /v1/admin/schools "$OP" '{"code":"BENCH","name":"Bench University"}' |
  jq -r .schoolId)
now=$(date -u +%s)
EXAM=$(authed POST /v1/admin/exams "$OP" "$(jq -nc --arg s "$SCHOOL" \
  --arg pay "$(ts $((now + 86400 * 30)))" --arg o "$(ts "$now")" --arg c "$(ts $((now + 86400 * 14)))" \
  '{schoolId: $s, title: "bench", feeCents: 10000, payDeadline: $pay, mode: "DUAL_CAMERA",
    materialsOpenAt: $o, materialsCloseAt: $c, commitmentText: "bench"}')" | jq -r .examId)

# LINES distinct valid resident IDs (GB 11643 check digit), the benchmark's candidate last.
CSV="$BENCH_DIR/roster.csv"
awk -v n="$((LINES - 1))" 'BEGIN {
  print "name,idType,idNumber,gender,major,direction"
  split("7 9 10 5 8 4 2 1 6 3 7 9 10 5 8 4 2", w, " ")
  check = "10X98765432"
  for (i = 0; i < n; i++) {
    d = int(i / 1000)
    id = sprintf("110105%04d%02d%02d%03d", 1970 + int(d / 336), int(d / 28) % 12 + 1, d % 28 + 1, i % 1000)
    s = 0
    for (k = 1; k <= 17; k++) s += substr(id, k, 1) * w[k]
    printf "考生%d,RESIDENT_ID,%s%s,男,计算机科学与技术,人工智能\n", i, id, substr(check, s % 11 + 1, 1)
  }
  print "张三,RESIDENT_ID,11010519491231002X,男,计算机科学与技术,人工智能"
}' >"$CSV"

import_roster() { # prints "seconds imported updated"
  local start end out
  start=$(date +%s.%N)
  out=$(curl -sS --max-time 120 -X POST -H "Authorization: Bearer $OP" -H 'Content-Type: text/csv' \
    --data-binary "@$CSV" "$GATEWAY_URL/v1/admin/exams/$EXAM/roster")
  end=$(date +%s.%N)
  jq -e '.imported' <<<"$out" >/dev/null || die "roster import answered: ${out:0:500}"
  [[ "$(jq -r .rejectedCount <<<"$out")" == 0 ]] || die "roster lines rejected: ${out:0:500}"
  echo "$(awk -v a="$start" -v b="$end" 'BEGIN { printf "%.2f", b - a }') $(jq -r '"\(.imported) \(.updated)"' <<<"$out")"
}
log "importing a $LINES-line roster ($(($(wc -c <"$CSV") / 1024)) KiB)"
read -r first_s first_n _ <<<"$(import_roster)"
read -r again_s again_n again_u <<<"$(import_roster)"
[[ "$first_n" == "$LINES" && "$again_u" == "$LINES" ]] || die "roster counts: $first_n, $again_n/$again_u"
first_rate=$(awk -v n="$LINES" -v s="$first_s" 'BEGIN { printf "%.0f", n / s }')
again_rate=$(awk -v n="$LINES" -v s="$again_s" 'BEGIN { printf "%.0f", n / s }')

# The candidate through the gates and the notice, then a fresh token (gate claims set).
version=$(authed GET /v1/agreement "$TOKEN" | jq -r .version)
authed POST /v1/agreement:accept "$TOKEN" "{\"version\":$version}" >/dev/null
v=$(authed POST /v1/verifications "$TOKEN" '{"purpose":"ACCOUNT"}')
authed POST /v1/verifications:scan "$TOKEN" "$(jq -c '{qrPayload}' <<<"$v")" >/dev/null
api POST "/v1/dev/verifications/$(jq -r .verificationId <<<"$v"):complete" '{"passed":true}' >/dev/null
TOKEN=$(api POST /v1/sessions "$(jq -nc --arg l "$PHONE" --arg pw "$PASSWORD" \
  '{login: $l, password: $pw}')" | jq -r .accessToken)
notice=$(authed GET /v1/notice "$TOKEN" | jq -r .version)
authed POST /v1/notice:read "$TOKEN" "{\"version\":$notice}" >/dev/null
authed GET "/v1/exams/$EXAM/journey" "$TOKEN" | jq -e '.next == "ADMISSION"' >/dev/null ||
  die "the journey does not answer as expected"

measure me "$GATEWAY_URL/v1/me" -H "Authorization: Bearer $TOKEN"
measure journey "$GATEWAY_URL/v1/exams/$EXAM/journey" -H "Authorization: Bearer $TOKEN"

r=$(ratio "${RPS[journey]}" "${RPS[me]}")
v_journey=$(verdict "$r" 0.333)

mkdir -p "$(dirname "$RESULTS")"
{
  echo "# Benchmark: enrollment"
  echo
  describe_run
  echo
  echo
  echo "wrk -t$THREADS -c$CONNECTIONS -d$DURATION after a $WARMUP warm-up; curl for the imports."
  echo "wrk, the gateway, identity, enrollment, PostgreSQL and Redis share this machine."
  echo
  echo "| measure | value |"
  echo "|---|---:|"
  echo "| roster import, $LINES new lines, one request | $first_s s = $first_rate lines/s |"
  echo "| roster re-import, $LINES updates, one request | $again_s s = $again_rate lines/s |"
  echo "| \`GET /v1/me\` | ${RPS[me]}/s (p50 ${P50[me]} ms, p99 ${P99[me]} ms) |"
  echo "| \`GET /v1/exams/{id}/journey\` | ${RPS[journey]}/s (p50 ${P50[journey]} ms, p99 ${P99[journey]} ms) |"
  echo
  echo "| ratio | value | goal |"
  echo "|---|---:|---|"
  echo "| journey ÷ /v1/me | $r | ≥ 0.33 (cost within 3×): $v_journey |"
} >"$RESULTS.tmp"
mv "$RESULTS.tmp" "$RESULTS"
echo
cat "$RESULTS"
echo
log "written to ${RESULTS#"$ADMISSIONS_ROOT"/}"

if ((BAD[me] + BAD[journey] > 0)); then
  die "some requests failed; the figures are not valid"
fi
if [[ "${BENCH_ENFORCE_GOALS:-0}" == 1 && "$v_journey" != met ]]; then
  die "a goal was missed"
fi
