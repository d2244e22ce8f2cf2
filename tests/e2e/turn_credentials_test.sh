#!/usr/bin/env bash
# TURN REST credentials against a real coturn: starts a coturn of its own (random shared
# secret, free port; deploy/local/coturn.sh), computes credentials the way media-signaling
# hands them out (username "expiry:accountId", credential base64(HMAC-SHA1(secret,
# username))) and has coturn's own client, turnutils_uclient, allocate relays with them:
#
#   valid (UDP and TCP)                allocation succeeds and data flows through the relay
#   expired (expiry in the past)       refused: 401 in coturn's log, uclient fails
#   signed with another secret         refused
#   expiry moved later, old credential refused (a client cannot extend its credentials)
#
# Fails (never skips) when turnserver, turnutils_uclient or openssl is missing.
# Usage: turn_credentials_test.sh [SOURCE_DIR]
set -uo pipefail

src=${1:-${ADMISSIONS_SOURCE_DIR:-$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)}}
failures=0
fail() {
  printf 'FAIL: %s\n' "$*" >&2
  failures=$((failures + 1))
}
pass() { printf 'ok: %s\n' "$*"; }

for tool in /usr/bin/turnserver /usr/bin/turnutils_uclient; do
  [[ -x "$tool" ]] || {
    echo "FAIL: $tool is missing (install coturn: deploy/local/install-deps.sh)" >&2
    exit 1
  }
done
for tool in openssl base64 ss python3; do
  command -v "$tool" >/dev/null || {
    echo "FAIL: $tool is missing" >&2
    exit 1
  }
done

# shellcheck source=deploy/local/coturn.sh
. "$src/deploy/local/coturn.sh" || {
  echo "FAIL: cannot source $src/deploy/local/coturn.sh" >&2
  exit 1
}

# The credential computation itself, against RFC 2202-style known answers, so that a broken
# openssl invocation cannot make both sides agree on garbage.
expected=$(printf '%s' 'The quick brown fox jumps over the lazy dog' |
  openssl dgst -sha1 -hmac key -binary | od -An -tx1 | tr -d ' \n')
if [[ "$expected" == "de7c9b85b8b78aa6bc8a7a36f70a90701c9db4d9" ]]; then
  pass "HMAC-SHA1 known answer"
else
  fail "HMAC-SHA1 known answer: got $expected"
fi
read -r kat_user kat_cred < <(turn_rest_credentials secret acct-1 1700000000)
# base64(HMAC-SHA1("secret", "1700000000:acct-1")), computed independently with python.
kat_py=$(python3 -c 'import base64,hashlib,hmac
print(base64.b64encode(hmac.new(b"secret", b"1700000000:acct-1", hashlib.sha1).digest()).decode())')
if [[ "$kat_user" == "1700000000:acct-1" && "$kat_cred" == "$kat_py" ]]; then
  pass "turn_rest_credentials matches an independent HMAC-SHA1 ($kat_cred)"
else
  fail "turn_rest_credentials gave '$kat_user' '$kat_cred', python '$kat_py'"
fi

# A port free for both UDP and TCP, and 32 relay ports after it that are free for UDP.
port=$(python3 -c 'import socket
for _ in range(200):
    t = socket.socket(); t.bind(("127.0.0.1", 0)); p = t.getsockname()[1]
    if p + 33 > 65535:
        t.close(); continue
    socks = [t]
    try:
        for q in range(p, p + 33):
            u = socket.socket(socket.AF_INET, socket.SOCK_DGRAM); u.bind(("127.0.0.1", q)); socks.append(u)
    except OSError:
        for s in socks: s.close()
        continue
    for s in socks: s.close()
    print(p); break')
[[ "$port" =~ ^[0-9]+$ ]] || {
  echo "FAIL: no free port" >&2
  exit 1
}

dir=$(mktemp -d "${TMPDIR:-/tmp}/turn-test.XXXXXX")
log="$dir/turnserver.log"
cleanup() {
  stop_coturn "$dir/coturn"
  if ((failures > 0)); then
    echo "--- coturn log (last 60 lines) ---" >&2
    tail -n 60 "$log" >&2
  fi
  rm -rf "$dir"
}
trap cleanup EXIT

secret=$(openssl rand -hex 24)
start_coturn "$dir/coturn" "$port" "$secret" "$log" $((port + 1)) $((port + 32)) || {
  echo "FAIL: coturn did not start" >&2
  exit 1
}
pass "coturn listens on 127.0.0.1:$port"

# uclient ARGS...: allocates, with -y two clients that send to each other through their
# relays. Prints its output; its status is uclient's (0 = ran to the end).
uclient() {
  timeout 60 /usr/bin/turnutils_uclient "$@" -n 2 -m 1 -p "$port" 127.0.0.1 2>&1
}

# expect_accepted NAME USER PASS [FLAGS]: allocation succeeds and no packet is lost.
expect_accepted() {
  local name=$1 user=$2 pass=$3 flags=${4:-} out status
  # shellcheck disable=SC2086
  out=$(uclient -y $flags -u "$user" -w "$pass")
  status=$?
  if ((status == 0)) && grep -q 'Total lost packets 0 ' <<<"$out" &&
    ! grep -q 'Cannot complete Allocation' <<<"$out"; then
    pass "$name: accepted, relayed with no loss"
  else
    fail "$name: expected an allocation (status $status)"
    printf '%s\n' "$out" | grep -v start_mclient | tail -n 20 >&2
  fi
}

# expect_refused NAME USER PASS: uclient cannot allocate and coturn answered 401 to USER.
expect_refused() {
  local name=$1 user=$2 pass=$3 out status
  out=$(uclient -y -u "$user" -w "$pass")
  status=$?
  local refused_in_log=0 deadline=$((SECONDS + 5))
  until grep -qF "user <$user>: incoming packet message processed, error 401" "$log"; do
    if ((SECONDS >= deadline)); then break; fi
    sleep 0.1
  done
  grep -qF "user <$user>: incoming packet message processed, error 401" "$log" && refused_in_log=1
  if ((status != 0)) && grep -q 'Cannot complete Allocation' <<<"$out" && ((refused_in_log)); then
    pass "$name: refused (401)"
  else
    fail "$name: expected a refusal (uclient status $status, 401 in coturn's log: $refused_in_log)"
    printf '%s\n' "$out" | grep -v start_mclient | tail -n 20 >&2
  fi
}

now=$(date +%s)
account="acct-$RANDOM$RANDOM"

read -r user cred < <(turn_rest_credentials "$secret" "$account" $((now + 600)))
expect_accepted "valid credentials over UDP" "$user" "$cred"
expect_accepted "valid credentials over TCP" "$user" "$cred" -t

read -r user cred < <(turn_rest_credentials "$secret" "$account-old" $((now - 60)))
expect_refused "expired credentials" "$user" "$cred"

read -r user cred < <(turn_rest_credentials "other-$secret" "$account-x" $((now + 600)))
expect_refused "credentials signed with another secret" "$user" "$cred"

read -r user cred < <(turn_rest_credentials "$secret" "$account-y" $((now + 600)))
expect_refused "expiry moved later with the old credential" "$((now + 86400)):$account-y" "$cred"

if ((failures > 0)); then
  echo "$failures check(s) failed" >&2
  exit 1
fi
echo "all TURN credential checks passed"
