#!/usr/bin/env bash
# Installs the Debian 12 packages that building, testing, running and benchmarking need.
# Asks dpkg which are missing first: when nothing is, this is a no-op that touches no
# network and takes a second or two. Works as root with no terminal (CI).
#
# kubectl (used by tests/integration/kustomize_test.sh) is not a Debian package: it
# comes with the machine image, and this script does not install it.
set -euo pipefail

PACKAGES=(
  # toolchain
  build-essential cmake ninja-build ccache pkg-config clang-format
  # libraries
  libgrpc++-dev libgrpc-dev protobuf-compiler-grpc libprotobuf-dev protobuf-compiler
  libabsl-dev libpqxx-dev libhiredis-dev libboost-dev libboost-system-dev
  libgtest-dev libgmock-dev libbenchmark-dev libsodium-dev libssl-dev
  # what `make run`, `make test` and `make bench` start or call
  postgresql redis-server curl nginx-light wrk jq
  # the TURN server `make run` starts and its test client (turnutils_uclient); the browser
  # and its WebDriver for the end-to-end WebRTC test (tests/e2e/)
  coturn chromium chromium-driver
)

# Names of the wanted packages that dpkg reports as installed (one dpkg call: fast).
installed_packages() {
  dpkg-query -W -f='${db:Status-Status} ${Package}\n' "$@" 2>/dev/null |
    awk '$1 == "installed" { print $2 }' || true
}

missing_packages() {
  local -A have=()
  local pkg
  while read -r pkg; do have["$pkg"]=1; done < <(installed_packages "$@")
  for pkg in "$@"; do
    [[ -n "${have[$pkg]:-}" ]] || echo "$pkg"
  done
}

mapfile -t missing < <(missing_packages "${PACKAGES[@]}")

if ((${#missing[@]} == 0)); then
  exit 0
fi

echo "==> installing missing packages: ${missing[*]}"
sudo=()
if ((EUID != 0)); then
  if ! command -v sudo >/dev/null 2>&1; then
    echo "install-deps: need root (or sudo) to install: ${missing[*]}" >&2
    exit 1
  fi
  sudo=(sudo --non-interactive)
fi

export DEBIAN_FRONTEND=noninteractive
apt_opts=(-y -q -o Dpkg::Options::=--force-confdef -o Dpkg::Options::=--force-confold)
"${sudo[@]}" env DEBIAN_FRONTEND=noninteractive apt-get update -q
"${sudo[@]}" env DEBIAN_FRONTEND=noninteractive \
  apt-get install "${apt_opts[@]}" --no-install-recommends "${missing[@]}" </dev/null

# Check again, so that a package apt silently skipped fails here rather than later.
mapfile -t still < <(missing_packages "${missing[@]}")
if ((${#still[@]} > 0)); then
  echo "install-deps: still missing after apt-get install: ${still[*]}" >&2
  exit 1
fi
