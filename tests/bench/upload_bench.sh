#!/usr/bin/env bash
# `make bench`, part five: material uploads (issue 6).
#
# Measures, in one run on this machine:
#   dd         `dd bs=1M conv=fsync` copying the large test file to a new file in the
#              benchmark's directory: what this disk does for a durable sequential write
#   upload     `curl -T FILE -X PUT .../materials/{requirementId}/files` through the gateway
#              (gateway → gRPC stream → materials-service: hash, write, fsync, rename, item
#              row), for a 50 MiB and a 200 MiB file, each as curl sends it by default
#              (`Expect: 100-continue`) and without Expect (as browsers send it); the
#              201's sizeBytes and sha256 are checked against the file
#   resumable  the 200 MiB file as a resumable upload: create, then two PATCHes of one
#              half each (BENCH_UPLOAD_RESUMABLE=0 skips it)
#   RSS        the gateway's and materials-service's resident memory, sampled every 50 ms
#              while each upload runs (and VmHWM, reset before each upload, as a check):
#              growth = peak − the RSS right before the upload
# Each size and way is uploaded BENCH_UPLOAD_RUNS times (3), dd runs as often; the best
# time of each is kept, the largest RSS growth. Every run's file differs (a run stamp in the
# payload), so no upload lands on a blob that is already there.
# Goals: the 200 MiB upload (curl's default) ≥ 0.5× dd's throughput; the RSS growth during
# the 200 MiB uploads within BENCH_UPLOAD_RSS_TOLERANCE_MIB (16) of the 50 MiB ones, for
# each process.
#
# Settings: BENCH_UPLOAD_SMALL_MIB (50), BENCH_UPLOAD_LARGE_MIB (200), BENCH_UPLOAD_RUNS
# (3), BENCH_UPLOAD_RESUMABLE (1), BENCH_UPLOAD_RSS_TOLERANCE_MIB (16),
# BENCH_UPLOAD_RESULTS (tests/bench/results/upload-latest.md), BENCH_ENFORCE_GOALS=1.
# Exits non-zero when an upload fails or answers another size or hash than the file's.
set -euo pipefail

# shellcheck source=tests/bench/bench_lib.sh
. "$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)/bench_lib.sh"
RESULTS=${BENCH_UPLOAD_RESULTS:-$ADMISSIONS_ROOT/tests/bench/results/upload-latest.md}
SMALL_MIB=${BENCH_UPLOAD_SMALL_MIB:-50}
LARGE_MIB=${BENCH_UPLOAD_LARGE_MIB:-200}
RUNS=${BENCH_UPLOAD_RUNS:-3}
RESUMABLE=${BENCH_UPLOAD_RESUMABLE:-1}
TOLERANCE_MIB=${BENCH_UPLOAD_RSS_TOLERANCE_MIB:-16}
MAX_BYTES=$(((LARGE_MIB + 50) * 1024 * 1024))

register_and_login

# ------------------------------------------------------------------------ setting up

OP=$(api POST /v1/sessions '{"login":"operator","password":"operator-dev-pass"}' | jq -r .accessToken)
[[ -n "$OP" && "$OP" != null ]] || die "operator login answered no accessToken"
SCHOOL=$(authed POST /v1/admin/schools "$OP" '{"code":"BENCHUP","name":"Bench University"}' |
  jq -r .schoolId)
now=$(date -u +%s)
EXAM=$(authed POST /v1/admin/exams "$OP" "$(jq -nc --arg s "$SCHOOL" \
  --arg o "$(ts $((now - 3600)))" --arg c "$(ts $((now + 86400 * 14)))" \
  '{schoolId: $s, title: "bench uploads", mode: "SINGLE_CAMERA", materialsOpenAt: $o,
    materialsCloseAt: $c, commitmentText: "bench"}')" | jq -r .examId)
REQ=$(authed POST "/v1/admin/exams/$EXAM/material-requirements" "$OP" "$(jq -nc --argjson m "$MAX_BYTES" \
  '{kind: "VIDEO", title: "面试视频", required: true, minCount: 1, maxCount: 3, maxBytes: $m,
    formats: ["mp4"]}')" | jq -r .requirementId)
[[ -n "$REQ" && "$REQ" != null ]] || die "no requirement created"

log "putting the candidate on the roster, through the gates and the notice"
out=$(curl -sS --max-time 60 -X POST -H "Authorization: Bearer $OP" -H 'Content-Type: text/csv' \
  --data-binary $'name,idType,idNumber,gender,major,direction\n张三,RESIDENT_ID,11010519491231002X,男,计算机科学与技术,人工智能\n' \
  "$GATEWAY_URL/v1/admin/exams/$EXAM/roster")
[[ "$(jq -r '.imported // 0' <<<"$out")" == 1 ]] || die "roster import answered: $out"
version=$(authed GET /v1/agreement "$TOKEN" | jq -r .version)
authed POST /v1/agreement:accept "$TOKEN" "{\"version\":$version}" >/dev/null
v=$(authed POST /v1/verifications "$TOKEN" '{"purpose":"ACCOUNT"}')
authed POST /v1/verifications:scan "$TOKEN" "$(jq -c '{qrPayload}' <<<"$v")" >/dev/null
api POST "/v1/dev/verifications/$(jq -r .verificationId <<<"$v"):complete" '{"passed":true}' >/dev/null
TOKEN=$(api POST /v1/sessions "$(jq -nc --arg l "$PHONE" --arg pw "$PASSWORD" \
  '{login: $l, password: $pw}')" | jq -r .accessToken)
notice=$(authed GET /v1/notice "$TOKEN" | jq -r .version)
authed POST /v1/notice:read "$TOKEN" "{\"version\":$notice}" >/dev/null

# ------------------------------------------------------------- the processes watched

GW_PID=$(pid_of gateway "$BUILD_DIR/$GATEWAY_BINARY") || die "gateway process not found"
MAT_PID=$(pid_of materials "$BUILD_DIR/services/materials/materials-service") ||
  die "materials-service process not found"

# status_kib PID FIELD: a kB field of /proc/PID/status (VmRSS, VmHWM).
status_kib() {
  local key val _
  while read -r key val _; do
    if [[ "$key" == "$2:" ]]; then
      echo "$val"
      return 0
    fi
  done <"/proc/$1/status"
  echo 0
}
# cpu_ticks PID: user + system CPU time of PID so far, in clock ticks.
cpu_ticks() {
  local stat f
  stat=$(<"/proc/$1/stat")
  read -ra f <<<"${stat##*) }"
  echo $((f[11] + f[12]))
}
TICK=$(getconf CLK_TCK)
cpu_secs() { awk -v t="$1" -v h="$TICK" 'BEGIN { printf "%.2f", t / h }'; }

# Resets VmHWM to the current RSS (Linux ≥ 4.0); false where that is not allowed.
reset_hwm() { { echo 5 >"/proc/$1/clear_refs"; } 2>/dev/null; }

# sample_rss FILE: "gateway_kib materials_kib" every 50 ms until killed.
sample_rss() {
  while :; do
    echo "$(status_kib "$GW_PID" VmRSS) $(status_kib "$MAT_PID" VmRSS)" >>"$1"
    sleep 0.05
  done
}

mib() { awk -v k="$1" 'BEGIN { printf "%.1f", k / 1024 }'; }
secs_between() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.3f", b - a }'; }
rate() { awk -v m="$1" -v s="$2" 'BEGIN { if (s > 0) printf "%.1f", m / s; else print "n/a" }'; }
min_of() { awk -v a="$1" -v b="$2" 'BEGIN { if (a == "" || b + 0 < a + 0) print b; else print a }'; }
max_of() { awk -v a="$1" -v b="$2" 'BEGIN { if (a == "" || b + 0 > a + 0) print b; else print a }'; }

# ---------------------------------------------------------------------- test files

# make_mp4 FILE MIB: a valid MP4 head (an ftyp box), then random bytes.
make_mp4() {
  {
    printf '\x00\x00\x00\x18ftypisom\x00\x00\x02\x00isomiso2'
    head -c $(($2 * 1024 * 1024 - 24)) /dev/urandom
  } >"$1"
  [[ "$(stat -c %s "$1")" == $(($2 * 1024 * 1024)) ]] || die "could not write $1"
}
# stamp FILE RUN: makes FILE differ from every other run's (16 bytes after the head).
stamp() { printf '%016d' "$2" | dd of="$1" bs=1 seek=24 conv=notrunc status=none; }

log "writing the test files (${SMALL_MIB} MiB, ${LARGE_MIB} MiB) into $BENCH_DIR"
SMALL="$BENCH_DIR/small.mp4"
LARGE="$BENCH_DIR/large.mp4"
make_mp4 "$SMALL" "$SMALL_MIB"
make_mp4 "$LARGE" "$LARGE_MIB"
sync

# --------------------------------------------------------------------- measurements

FILES_PATH="/v1/exams/$EXAM/materials/$REQ/files"
RUN=0

# upload FILE MIB [noexpect]: one PUT with RSS sampling (with `noexpect`, curl sends no
# `Expect: 100-continue`, as browsers do; by default it sends one for a body over 1 MiB); sets UP_SECS, UP_GW_KIB, UP_MAT_KIB (sampled
# growth), UP_GW_HWM_KIB, UP_MAT_HWM_KIB (VmHWM growth, empty when it cannot be reset),
# UP_GW_PEAK_KIB, UP_MAT_PEAK_KIB (absolute sampled peaks), UP_GW_CPU, UP_MAT_CPU (CPU
# seconds each process spent meanwhile). Dies on a failure or a wrong
# size or hash; deletes the item afterwards (the requirement takes 3).
upload() {
  local file=$1 size_mib=$2 sha size out code secs body item samples spid gw0 mat0 hwm=1
  local expect=()
  [[ "${3:-}" != noexpect ]] || expect=(-H 'Expect:')
  local gw_cpu0 mat_cpu0
  RUN=$((RUN + 1))
  stamp "$file" "$RUN"
  sha=$(sha256sum "$file" | cut -d' ' -f1)
  size=$(stat -c %s "$file")
  sync
  samples="$BENCH_DIR/rss-$RUN.txt"
  body="$BENCH_DIR/upload-$RUN.json"
  gw0=$(status_kib "$GW_PID" VmRSS)
  mat0=$(status_kib "$MAT_PID" VmRSS)
  { reset_hwm "$GW_PID" && reset_hwm "$MAT_PID"; } || hwm=0
  : >"$samples"
  gw_cpu0=$(cpu_ticks "$GW_PID")
  mat_cpu0=$(cpu_ticks "$MAT_PID")
  sample_rss "$samples" &
  spid=$!
  out=$(curl -sS --max-time 600 -T "$file" -X PUT -o "$body" -w '%{http_code} %{time_total}' \
    -H "Authorization: Bearer $TOKEN" -H 'Content-Type: application/octet-stream' "${expect[@]}" \
    "$GATEWAY_URL$FILES_PATH?filename=bench-$RUN.mp4") || {
    kill "$spid" 2>/dev/null || true
    die "upload $RUN ($size_mib MiB): curl failed: $out"
  }
  kill "$spid" 2>/dev/null || true
  wait "$spid" 2>/dev/null || true
  UP_GW_CPU=$(cpu_secs $(($(cpu_ticks "$GW_PID") - gw_cpu0)))
  UP_MAT_CPU=$(cpu_secs $(($(cpu_ticks "$MAT_PID") - mat_cpu0)))
  read -r code secs <<<"$out"
  [[ "$code" == 201 ]] || die "upload $RUN ($size_mib MiB) answered $code: $(head -c 500 "$body")"
  [[ "$(jq -r .sizeBytes "$body")" == "$size" ]] ||
    die "upload $RUN: sizeBytes $(jq -r .sizeBytes "$body"), the file has $size"
  [[ "$(jq -r .sha256 "$body")" == "$sha" ]] ||
    die "upload $RUN: sha256 $(jq -r .sha256 "$body"), sha256sum says $sha"
  item=$(jq -r .itemId "$body")
  UP_SECS=$(awk -v s="$secs" 'BEGIN { printf "%.3f", s }')
  read -r UP_GW_PEAK_KIB UP_MAT_PEAK_KIB < <(awk -v g="$gw0" -v m="$mat0" '
    { if ($1 > g) g = $1; if ($2 > m) m = $2 } END { print g, m }' "$samples")
  UP_GW_KIB=$((UP_GW_PEAK_KIB - gw0))
  UP_MAT_KIB=$((UP_MAT_PEAK_KIB - mat0))
  UP_GW_HWM_KIB=
  UP_MAT_HWM_KIB=
  if ((hwm)); then
    UP_GW_HWM_KIB=$(($(status_kib "$GW_PID" VmHWM) - gw0))
    UP_MAT_HWM_KIB=$(($(status_kib "$MAT_PID" VmHWM) - mat0))
  fi
  log "upload $RUN: $size_mib MiB in $UP_SECS s ($(rate "$size_mib" "$UP_SECS") MiB/s); RSS growth" \
    "gateway $(mib "$UP_GW_KIB") MiB, materials $(mib "$UP_MAT_KIB") MiB ($(wc -l <"$samples") samples);" \
    "CPU gateway $UP_GW_CPU s, materials $UP_MAT_CPU s"
  authed DELETE "/v1/exams/$EXAM/materials/items/$item" "$TOKEN" >/dev/null
}

# dd_once FILE: sets DD_SECS.
dd_once() {
  rm -f "$BENCH_DIR/dd.out"
  sync
  local start end
  start=$(date +%s.%N)
  dd if="$1" of="$BENCH_DIR/dd.out" bs=1M conv=fsync status=none
  end=$(date +%s.%N)
  DD_SECS=$(secs_between "$start" "$end")
  log "dd: $(($(stat -c %s "$1") / 1048576)) MiB in $DD_SECS s"
}

# A small upload first, not counted: one-time allocations (channels, arenas) out of the way.
make_mp4 "$BENCH_DIR/warm.mp4" 4
upload "$BENCH_DIR/warm.mp4" 4
GW_BEFORE=$(status_kib "$GW_PID" VmRSS)
MAT_BEFORE=$(status_kib "$MAT_PID" VmRSS)

declare -A BEST=() CPU_GW=() CPU_MAT=() GROW_GW=() GROW_MAT=() HWM_GW=() HWM_MAT=() PEAK_GW=() PEAK_MAT=() ALL=()
DD_BEST=
DD_ALL=
for ((r = 1; r <= RUNS; r++)); do
  dd_once "$LARGE"
  DD_BEST=$(min_of "$DD_BEST" "$DD_SECS")
  DD_ALL="${DD_ALL:+$DD_ALL, }$DD_SECS"
  for size in small large small_ne large_ne; do
    case $size in
    small) upload "$SMALL" "$SMALL_MIB" ;;
    large) upload "$LARGE" "$LARGE_MIB" ;;
    small_ne) upload "$SMALL" "$SMALL_MIB" noexpect ;;
    large_ne) upload "$LARGE" "$LARGE_MIB" noexpect ;;
    esac
    if [[ -z "${BEST[$size]:-}" || "$(min_of "${BEST[$size]}" "$UP_SECS")" != "${BEST[$size]}" ]]; then
      BEST[$size]=$UP_SECS
      CPU_GW[$size]=$UP_GW_CPU
      CPU_MAT[$size]=$UP_MAT_CPU
    fi
    ALL[$size]="${ALL[$size]:+${ALL[$size]}, }$UP_SECS"
    GROW_GW[$size]=$(max_of "${GROW_GW[$size]:-}" "$UP_GW_KIB")
    GROW_MAT[$size]=$(max_of "${GROW_MAT[$size]:-}" "$UP_MAT_KIB")
    PEAK_GW[$size]=$(max_of "${PEAK_GW[$size]:-}" "$UP_GW_PEAK_KIB")
    PEAK_MAT[$size]=$(max_of "${PEAK_MAT[$size]:-}" "$UP_MAT_PEAK_KIB")
    if [[ -n "$UP_GW_HWM_KIB" ]]; then
      HWM_GW[$size]=$(max_of "${HWM_GW[$size]:-}" "$UP_GW_HWM_KIB")
      HWM_MAT[$size]=$(max_of "${HWM_MAT[$size]:-}" "$UP_MAT_HWM_KIB")
    fi
  done
done
rm -f "$BENCH_DIR/dd.out"

# The resumable path: create, then two PATCHes of one half each.
RES_SECS=
if [[ "$RESUMABLE" == 1 ]]; then
  RUN=$((RUN + 1))
  stamp "$LARGE" "$RUN"
  sha=$(sha256sum "$LARGE" | cut -d' ' -f1)
  size=$(stat -c %s "$LARGE")
  half=$((size / 2))
  dd if="$LARGE" of="$BENCH_DIR/half1" bs=1M count=$((half / 1048576)) status=none
  dd if="$LARGE" of="$BENCH_DIR/half2" bs=1M skip=$((half / 1048576)) status=none
  [[ "$(stat -c %s "$BENCH_DIR/half1")" == "$half" ]] || die "could not split $LARGE"
  sync
  start=$(date +%s.%N)
  created=$(authed POST "/v1/exams/$EXAM/materials/$REQ/uploads" "$TOKEN" \
    "$(jq -nc --arg n "bench-$RUN.mp4" --argjson s "$size" '{filename: $n, sizeBytes: $s}')")
  id=$(jq -r .uploadId <<<"$created")
  offset=0
  for part in half1 half2; do
    out=$(curl -sS --max-time 600 -T "$BENCH_DIR/$part" -X PATCH -o "$BENCH_DIR/patch.json" \
      -w '%{http_code}' -H "Authorization: Bearer $TOKEN" -H "Upload-Offset: $offset" \
      -H 'Content-Type: application/offset+octet-stream' \
      "$GATEWAY_URL/v1/exams/$EXAM/materials/uploads/$id") || die "PATCH $part: curl failed"
    [[ "$out" == 200 ]] || die "PATCH $part answered $out: $(head -c 500 "$BENCH_DIR/patch.json")"
    offset=$(jq -r .offset "$BENCH_DIR/patch.json")
  done
  end=$(date +%s.%N)
  RES_SECS=$(secs_between "$start" "$end")
  [[ "$(jq -r .complete "$BENCH_DIR/patch.json")" == true && "$offset" == "$size" ]] ||
    die "the resumable upload did not complete: $(cat "$BENCH_DIR/patch.json")"
  [[ "$(jq -r .sha256 "$BENCH_DIR/patch.json")" == "$sha" ]] ||
    die "resumable upload: sha256 $(jq -r .sha256 "$BENCH_DIR/patch.json"), sha256sum says $sha"
  log "resumable: $LARGE_MIB MiB in two PATCHes, $RES_SECS s ($(rate "$LARGE_MIB" "$RES_SECS") MiB/s)"
  rm -f "$BENCH_DIR/half1" "$BENCH_DIR/half2"
fi

# ------------------------------------------------------------------------- results

dd_rate=$(rate "$LARGE_MIB" "$DD_BEST")
declare -A RATE=() R=()
for c in small large small_ne large_ne; do
  if [[ $c == small* ]]; then m=$SMALL_MIB; else m=$LARGE_MIB; fi
  RATE[$c]=$(rate "$m" "${BEST[$c]}")
  R[$c]=$(ratio "${RATE[$c]}" "$dd_rate")
done
v_large=$(verdict "${R[large]}" 0.5)
# The RSS figures of a size: the larger of its two ways (with and without Expect).
for c in small large; do
  GROW_GW[$c]=$(max_of "${GROW_GW[$c]}" "${GROW_GW[${c}_ne]}")
  GROW_MAT[$c]=$(max_of "${GROW_MAT[$c]}" "${GROW_MAT[${c}_ne]}")
  PEAK_GW[$c]=$(max_of "${PEAK_GW[$c]}" "${PEAK_GW[${c}_ne]}")
  PEAK_MAT[$c]=$(max_of "${PEAK_MAT[$c]}" "${PEAK_MAT[${c}_ne]}")
  if [[ -n "${HWM_GW[$c]:-}" ]]; then
    HWM_GW[$c]=$(max_of "${HWM_GW[$c]}" "${HWM_GW[${c}_ne]}")
    HWM_MAT[$c]=$(max_of "${HWM_MAT[$c]}" "${HWM_MAT[${c}_ne]}")
  fi
done
tol=$((TOLERANCE_MIB * 1024))
flat() { # growth_large growth_small → met / MISSED
  if (($1 - $2 <= tol)); then echo met; else echo MISSED; fi
}
v_gw=$(flat "${GROW_GW[large]}" "${GROW_GW[small]}")
v_mat=$(flat "${GROW_MAT[large]}" "${GROW_MAT[small]}")
hwm_cell() { # KIB or empty
  if [[ -n "${1:-}" ]]; then echo "$(mib "$1") MiB"; else echo "n/a"; fi
}
row() { # CASE LABEL
  echo "| $2 | ${BEST[$1]} s (${ALL[$1]}) | ${RATE[$1]} | ${CPU_GW[$1]}, ${CPU_MAT[$1]} |"
}

mkdir -p "$(dirname "$RESULTS")"
{
  echo "# Benchmark: material uploads"
  echo
  describe_run
  echo
  echo
  echo "curl -T through the gateway to materials-service (blob dir and test files in one"
  echo "directory of $(df -P "$BENCH_DIR" | awk 'NR == 2 { print $1 }'), $(findmnt -no FSTYPE -T "$BENCH_DIR" 2>/dev/null || echo "?"));"
  echo "dd bs=1M conv=fsync of the ${LARGE_MIB} MiB file into the same directory. Best of $RUNS each."
  echo "curl sends \`Expect: 100-continue\` for these bodies unless told not to (\`-H 'Expect:'\`,"
  echo "as browsers do); the goal is judged on curl's default. RSS growth: the largest of all"
  echo "uploads of a size, peak minus the RSS right before the upload (sampled every 50 ms;"
  echo "VmHWM reset before the upload as a check). Before the measured runs (after a 4 MiB"
  echo "warm-up upload): gateway $(mib "$GW_BEFORE") MiB, materials $(mib "$MAT_BEFORE") MiB."
  echo "curl, the gateway, materials, PostgreSQL and Redis share this machine."
  echo
  echo "| measure | time (best; all runs) | MiB/s | CPU s: gateway, materials (best run) |"
  echo "|---|---:|---:|---:|"
  echo "| dd, ${LARGE_MIB} MiB, conv=fsync | $DD_BEST s (${DD_ALL}) | $dd_rate | |"
  row small "upload, ${SMALL_MIB} MiB, one PUT"
  row large "upload, ${LARGE_MIB} MiB, one PUT"
  row small_ne "upload, ${SMALL_MIB} MiB, one PUT, no Expect"
  row large_ne "upload, ${LARGE_MIB} MiB, one PUT, no Expect"
  if [[ -n "$RES_SECS" ]]; then
    echo "| upload, ${LARGE_MIB} MiB, resumable (create + 2 PATCHes, once) | $RES_SECS s | $(rate "$LARGE_MIB" "$RES_SECS") | |"
  fi
  echo
  echo "| RSS during the upload | ${SMALL_MIB} MiB | ${LARGE_MIB} MiB | peak RSS (${SMALL_MIB} / ${LARGE_MIB} MiB) |"
  echo "|---|---:|---:|---:|"
  echo "| gateway, growth (sampled) | $(mib "${GROW_GW[small]}") MiB | $(mib "${GROW_GW[large]}") MiB | $(mib "${PEAK_GW[small]}") / $(mib "${PEAK_GW[large]}") MiB |"
  echo "| gateway, growth (VmHWM) | $(hwm_cell "${HWM_GW[small]:-}") | $(hwm_cell "${HWM_GW[large]:-}") | |"
  echo "| materials, growth (sampled) | $(mib "${GROW_MAT[small]}") MiB | $(mib "${GROW_MAT[large]}") MiB | $(mib "${PEAK_MAT[small]}") / $(mib "${PEAK_MAT[large]}") MiB |"
  echo "| materials, growth (VmHWM) | $(hwm_cell "${HWM_MAT[small]:-}") | $(hwm_cell "${HWM_MAT[large]:-}") | |"
  echo
  echo "| ratio | value | goal |"
  echo "|---|---:|---|"
  echo "| upload ${LARGE_MIB} MiB ÷ dd | ${R[large]} | ≥ 0.5: $v_large |"
  echo "| upload ${LARGE_MIB} MiB, no Expect ÷ dd | ${R[large_ne]} | |"
  echo "| upload ${SMALL_MIB} MiB ÷ dd | ${R[small]} | |"
  echo "| upload ${SMALL_MIB} MiB, no Expect ÷ dd | ${R[small_ne]} | |"
  echo "| gateway RSS growth, ${LARGE_MIB} − ${SMALL_MIB} MiB | $(mib $((GROW_GW[large] - GROW_GW[small]))) MiB | ≤ $TOLERANCE_MIB MiB (flat): $v_gw |"
  echo "| materials RSS growth, ${LARGE_MIB} − ${SMALL_MIB} MiB | $(mib $((GROW_MAT[large] - GROW_MAT[small]))) MiB | ≤ $TOLERANCE_MIB MiB (flat): $v_mat |"
} >"$RESULTS.tmp"
mv "$RESULTS.tmp" "$RESULTS"
echo
cat "$RESULTS"
echo
log "written to ${RESULTS#"$ADMISSIONS_ROOT"/}"

if [[ "${BENCH_ENFORCE_GOALS:-0}" == 1 && ("$v_large" != met || "$v_gw" != met || "$v_mat" != met) ]]; then
  die "a goal was missed"
fi
