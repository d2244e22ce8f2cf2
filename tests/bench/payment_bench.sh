#!/usr/bin/env bash
# `make bench`, part four: payment notifications (issue 5).
#
# Measures, in one run on this machine:
#   distinct   signed sandbox notifications/s through the gateway, each for another
#              UNPAID order (signature check, then one transaction: lock the order, record
#              the notification, mark it PAID, one ledger row)
#   replayed   the same notification of one order sent over and over (signature check, then
#              the transaction finds it handled and changes nothing)
#   baseline   pgbench: a plain single-row UPDATE, one per transaction, on the same
#              PostgreSQL with as many clients as payment-service has connections
# and checks afterwards that every order was settled once: PAID orders = PAYMENT ledger
# rows = notification records. The figures are ratios against the baseline.
#
# Settings: BENCH_DURATION (10s), BENCH_WARMUP (2s), BENCH_THREADS (2),
# BENCH_CONNECTIONS (64), BENCH_NOTIFY_ORDERS (150000),
# BENCH_PAYMENT_RESULTS (tests/bench/results/payment-latest.md).
set -euo pipefail

# The payment service signs-checks with this sandbox seed; notify-gen signs with it.
PAYMENT_SANDBOX_KEY=$(head -c 32 /dev/urandom | base64)
export PAYMENT_SANDBOX_KEY
# shellcheck source=tests/bench/bench_lib.sh
. "$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)/bench_lib.sh"
RESULTS=${BENCH_PAYMENT_RESULTS:-$ADMISSIONS_ROOT/tests/bench/results/payment-latest.md}
ORDERS=${BENCH_NOTIFY_ORDERS:-150000}
MERCHANT=sandbox-merchant-0001
PG_POOL=8 # payment-service's --pg_pool_size default
PSQL=("$(pg_bin_dir)/psql" -X -q -v ON_ERROR_STOP=1 "$PG_URI")

# ORDERS unpaid orders made directly in the database (setting up, not measured): the
# notification path does not care how an order was opened.
log "creating $ORDERS unpaid orders and their signed notifications"
"${PSQL[@]}" -tA -c "INSERT INTO payment.orders (account_id, exam_id, school_id, amount_cents,
  status, provider) SELECT 'bench-' || g, 'bench-exam', 'bench-school', 10000, 'UNPAID',
  'sandbox' FROM generate_series(1, $ORDERS) g RETURNING id" >"$BENCH_DIR/orders.txt"
[[ "$(wc -l <"$BENCH_DIR/orders.txt")" == "$ORDERS" ]] || die "could not create the orders"
gen="$BUILD_DIR/tests/bench/notify-gen"
head -n 20000 "$BENCH_DIR/orders.txt" |
  "$gen" "$PAYMENT_SANDBOX_KEY" "$MERCHANT" 10000 >"$BENCH_DIR/warm.tsv"
tail -n +20001 "$BENCH_DIR/orders.txt" |
  "$gen" "$PAYMENT_SANDBOX_KEY" "$MERCHANT" 10000 >"$BENCH_DIR/distinct.tsv"
head -n 1 "$BENCH_DIR/distinct.tsv" >"$BENCH_DIR/replay.tsv"
[[ "$(curl -sS -X POST --data-binary "$(cut -f1 "$BENCH_DIR/warm.tsv" | head -1)" \
  -H "X-Pay-Signature: $(cut -f2 "$BENCH_DIR/warm.tsv" | head -1)" \
  -H "X-Pay-Timestamp: $(cut -f3 "$BENCH_DIR/warm.tsv" | head -1)" \
  -H "X-Pay-Nonce: $(cut -f4 "$BENCH_DIR/warm.tsv" | head -1)" \
  "$GATEWAY_URL/v1/payments/notify/sandbox")" == success ]] ||
  die "the gateway does not accept the generated notifications"

export NOTIFY_THREADS=$THREADS
script=(-s "$ADMISSIONS_ROOT/tests/bench/notify.lua")
url="$GATEWAY_URL/v1/payments/notify/sandbox"
NOTIFY_REQUESTS="$BENCH_DIR/warm.tsv" MEASURE_WARMUP=0s DURATION=$WARMUP measure warm "$url" "${script[@]}"
NOTIFY_REQUESTS="$BENCH_DIR/distinct.tsv" MEASURE_WARMUP=0s measure distinct "$url" "${script[@]}"
NOTIFY_REQUESTS="$BENCH_DIR/replay.tsv" measure replayed "$url" "${script[@]}"

# Exactly once under load: as many PAID orders as PAYMENT ledger rows and notifications.
read -r paid ledger notes <<<"$("${PSQL[@]}" -tA -F ' ' -c "SELECT
  (SELECT count(*) FROM payment.orders WHERE status = 'PAID'),
  (SELECT count(*) FROM payment.ledger WHERE kind = 'PAYMENT'),
  (SELECT count(*) FROM payment.notifications)")"
[[ "$paid" == "$ledger" && "$paid" == "$notes" ]] ||
  die "settlement is not exactly once: $paid paid, $ledger ledger rows, $notes notifications"

# The baseline: pgbench on a table of its own in the same database.
log "pgbench: single-row UPDATE, $PG_POOL clients, $DURATION"
"${PSQL[@]}" -c "CREATE TABLE bench_update (id int PRIMARY KEY, n bigint NOT NULL DEFAULT 0);
  INSERT INTO bench_update (id) SELECT generate_series(1, $ORDERS)"
printf '\\set id random(1, %d)\nUPDATE bench_update SET n = n + 1 WHERE id = :id;\n' "$ORDERS" \
  >"$BENCH_DIR/update.sql"
secs=${DURATION%s}
"$(pg_bin_dir)/pgbench" -n -M prepared -c "$PG_POOL" -j "$THREADS" -T "$secs" \
  -f "$BENCH_DIR/update.sql" "$PG_URI" >"$BENCH_DIR/pgbench.txt" 2>&1 ||
  {
    cat "$BENCH_DIR/pgbench.txt" >&2
    die "pgbench failed"
  }
baseline=$(awk '/^tps = / { printf "%.0f", $3; exit }' "$BENCH_DIR/pgbench.txt")
[[ -n "$baseline" && "$baseline" != 0 ]] || die "could not read pgbench's output"

r_distinct=$(ratio "${RPS[distinct]}" "$baseline")
r_replayed=$(ratio "${RPS[replayed]}" "$baseline")
mkdir -p "$(dirname "$RESULTS")"
{
  echo "# Benchmark: payment notifications"
  echo
  describe_run
  echo
  echo
  echo "wrk -t$THREADS -c$CONNECTIONS -d$DURATION (the replayed run after a $WARMUP warm-up; the"
  echo "distinct run after a $WARMUP run on other orders); pgbench -c $PG_POOL -j $THREADS -T $secs."
  echo "wrk, the gateway, payment, PostgreSQL (fsync on) and Redis share this machine."
  echo
  echo "| measure | value |"
  echo "|---|---:|"
  echo "| distinct orders | ${RPS[distinct]}/s (p50 ${P50[distinct]} ms, p99 ${P99[distinct]} ms) |"
  echo "| one notification replayed | ${RPS[replayed]}/s (p50 ${P50[replayed]} ms, p99 ${P99[replayed]} ms) |"
  echo "| baseline: single-row UPDATE (pgbench) | $baseline/s |"
  echo "| after the run: PAID orders = ledger rows = notifications | $paid |"
  echo
  echo "| ratio | value |"
  echo "|---|---:|"
  echo "| distinct ÷ baseline | $r_distinct |"
  echo "| replayed ÷ baseline | $r_replayed |"
} >"$RESULTS.tmp"
mv "$RESULTS.tmp" "$RESULTS"
echo
cat "$RESULTS"
echo
log "written to ${RESULTS#"$ADMISSIONS_ROOT"/}"

if ((BAD[distinct] + BAD[replayed] > 0)); then
  die "some notifications were refused; the figures are not valid"
fi
