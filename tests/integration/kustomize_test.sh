#!/usr/bin/env bash
# Renders the Kubernetes manifests with `kubectl kustomize` (the base and every overlay)
# and checks that each component (the gateway and every service of
# deploy/local/lib.sh's ADMISSIONS_SERVICES) has its Deployment, Service,
# PodDisruptionBudget and HorizontalPodAutoscaler, its probes (gRPC health for services,
# /healthz and /readyz for the gateway), resource requests and limits, and that no
# secret value is committed. Fails (never skips) when kubectl is missing.
#
# usage: kustomize_test.sh [SOURCE_DIR]
set -euo pipefail

root=${1:-$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)}
# shellcheck source=deploy/local/lib.sh
. "$root/deploy/local/lib.sh"

if ! command -v kubectl >/dev/null 2>&1; then
  echo "FAIL: kubectl not found; it comes with the machine image (not from apt), see docs/operations.md" >&2
  exit 1
fi

components=(gateway)
for line in "${ADMISSIONS_SERVICES[@]}"; do
  read -r name _ <<<"$line"
  components+=("$name")
done

failures=0
passes=0
fail() {
  echo "FAIL: $*" >&2
  failures=$((failures + 1))
}
pass() { passes=$((passes + 1)); }
check() { # check DESCRIPTION FACT: FACT must be a line of the facts file
  if grep -qxF -- "$2" "$facts"; then pass; else fail "$1 (wanted: $2)"; fi
}

# Reads rendered YAML and prints one fact per line, prefixed by "Kind name":
#   Kind name                           each object
#   Kind name probe P grpc PORT         a probe of type grpc
#   Kind name probe P httpGet PATH      a probe of type httpGet
#   Kind name requests | limits         a container's resources
#   Kind name env NAME                  an environment variable a container sets
#   Kind name data                      a Secret that carries values
#   Kind name namespace NS
facts_of() {
  awk '
    function flush_probe() {
      if (probe != "") {
        facts[++n] = "probe " probe " " ptype " " (ptype == "grpc" ? pport : ppath)
        probe = ""
      }
    }
    function flush_doc(   i) {
      flush_probe()
      if (kind != "") {
        print kind " " name
        for (i = 1; i <= n; i++) print kind " " name " " facts[i]
      }
      kind = ""; name = ""; n = 0; inmeta = 0
    }
    function indent(s) { match(s, /^[ -]*/); return RLENGTH }
    /^---/ { flush_doc(); next }
    /^kind: / { kind = $2 }
    /^metadata:/ { inmeta = 1; next }
    /^[^ ]/ { inmeta = 0 }
    inmeta && /^  name: / { name = $2 }
    inmeta && /^  namespace: / { facts[++n] = "namespace " $2 }
    kind == "Secret" && /^(data|stringData):/ { facts[++n] = "data" }
    {
      if (probe != "" && $0 !~ /^ *$/ && indent($0) <= pindent) flush_probe()
      if (probe != "") {
        if ($0 ~ /^ *grpc:/) ptype = "grpc"
        if ($0 ~ /^ *httpGet:/) ptype = "httpGet"
        if ($0 ~ /^ *path: /) { ppath = $0; sub(/^ *path: */, "", ppath) }
        if ($0 ~ /^ *port: /) { pport = $0; sub(/^ *port: */, "", pport) }
      }
    }
    /^ *(readinessProbe|livenessProbe|startupProbe):/ {
      flush_probe()
      probe = $0; sub(/^ */, "", probe); sub(/:.*/, "", probe)
      pindent = indent($0); ptype = "?"; ppath = ""; pport = ""
    }
    /^ +requests:/ { facts[++n] = "requests" }
    /^ +limits:/ { facts[++n] = "limits" }
    /^ *- name: [A-Z_]+$/ { v = $0; sub(/^ *- name: */, "", v); facts[++n] = "env " v }
    END { flush_doc() }
  '
}

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

targets=("$root/deploy/k8s/base")
for overlay in "$root"/deploy/k8s/overlays/*/; do
  [[ -f "$overlay/kustomization.yaml" ]] && targets+=("${overlay%/}")
done

for target in "${targets[@]}"; do
  label=${target#"$root"/}
  rendered="$work/rendered.yaml"
  facts="$work/facts.txt"
  if ! kubectl kustomize "$target" >"$rendered" 2>"$work/err"; then
    fail "$label: kubectl kustomize failed: $(cat "$work/err")"
    continue
  fi
  facts_of <"$rendered" | sort -u >"$facts"

  for c in "${components[@]}"; do
    for kind in Deployment Service PodDisruptionBudget HorizontalPodAutoscaler; do
      check "$label: $kind $c" "$kind $c"
    done
    check "$label: Deployment $c resource requests" "Deployment $c requests"
    check "$label: Deployment $c resource limits" "Deployment $c limits"
    if [[ "$c" == gateway ]]; then
      check "$label: gateway liveness on /healthz" "Deployment gateway probe livenessProbe httpGet /healthz"
      check "$label: gateway readiness on /readyz" "Deployment gateway probe readinessProbe httpGet /readyz"
      for secret in TOKEN_SIGNING_KEY PII_ENCRYPTION_KEY PII_INDEX_KEY PG_URI; do
        if grep -qxF "Deployment gateway env $secret" "$facts"; then
          fail "$label: the gateway must not get $secret"
        else
          pass
        fi
      done
    else
      for p in startupProbe readinessProbe livenessProbe; do
        if grep -qE "^Deployment $c probe $p grpc [0-9]+$" "$facts"; then
          pass
        else
          fail "$label: Deployment $c has no gRPC $p"
        fi
      done
    fi
  done

  if grep -qE '^Secret [^ ]+ data$' "$facts"; then
    fail "$label: renders a Secret with values; secrets are created outside the repository"
  else
    pass
  fi
  if grep -q '^ConfigMap admissions-config' "$facts"; then pass; else fail "$label: no ConfigMap admissions-config"; fi
  if [[ "$label" == */production ]]; then
    for c in "${components[@]}"; do
      check "$label: Deployment $c in namespace admissions" "Deployment $c namespace admissions"
    done
  fi
done

echo "kustomize_test: ${#targets[@]} renders, $passes checks passed, $failures failed"
((failures == 0))
