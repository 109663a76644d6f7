#!/usr/bin/env bash
# Validates every manifest under deploy/kubernetes against the Kubernetes API
# schema (kubernetes-validate --strict: unknown fields are errors), without a
# cluster. Each kustomization.yaml's resources: list is validated file by file;
# where kubectl is installed, its built-in kustomize also renders the whole
# kustomization and the result is validated too.
# Usage: validate-k8s.sh [deploy/kubernetes dir]
# Exit 0: all valid; 1: a manifest is invalid (printed); 77: no python3 venv.
set -euo pipefail

root="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
k8s_dir="${1:-$root/deploy/kubernetes}"

# Pinned so that a new release can't change the verdict under us. 1.34 knows
# native sidecars (restartPolicy in an init container, 1.28+) and is the
# newest schema this release ships.
validator_version=1.34.1
kubernetes_version=1.34.0

venv="${XDG_CACHE_HOME:-$HOME/.cache}/certswap/venv-k8s"
validator="$venv/bin/kubernetes-validate"
if [[ "$("$validator" --version 2>/dev/null || true)" != "$validator_version" ]]; then
  if ! command -v python3 >/dev/null || ! python3 -c 'import venv, ensurepip' 2>/dev/null; then
    echo "validate-k8s: SKIP: python3 with the venv module is needed (Debian: apt-get install python3-venv)" >&2
    exit 77
  fi
  echo "validate-k8s: installing kubernetes-validate $validator_version into $venv" >&2
  rm -rf "$venv"
  python3 -m venv "$venv"
  if ! "$venv/bin/pip" install --quiet --disable-pip-version-check \
    "kubernetes-validate==$validator_version" >&2; then
    echo "validate-k8s: FAIL: could not install kubernetes-validate $validator_version from PyPI" >&2
    rm -rf "$venv"
    exit 1
  fi
fi

failures=0
fail() {
  echo "validate-k8s: FAIL: $*" >&2
  failures=$((failures + 1))
}

# kubernetes-validate exits 0 on a WARN such as "Couldn't find schema for kind"
# (a misspelt kind or apiVersion), so any line but INFO counts as a failure.
validate() {
  local out rc=0
  out="$("$validator" --strict --kubernetes-version "$kubernetes_version" "$@" 2>&1)" || rc=$?
  printf '%s\n' "$out"
  if ((rc != 0)) || grep -qv '^INFO ' <<<"$out"; then
    return 1
  fi
}

# The resources: list of a kustomization, one entry a line (PyYAML comes with
# kubernetes-validate).
resources_of() {
  "$venv/bin/python" - "$1" <<'EOF'
import sys, yaml
with open(sys.argv[1]) as f:
    doc = yaml.safe_load(f) or {}
for r in doc.get("resources") or []:
    print(r)
EOF
}

mapfile -t kustomizations < <(find "$k8s_dir" -name kustomization.yaml | sort)
((${#kustomizations[@]})) || { echo "validate-k8s: FAIL: no kustomization.yaml under $k8s_dir" >&2; exit 1; }

manifests=0
for k in "${kustomizations[@]}"; do
  dir="$(dirname "$k")"
  echo "--- ${dir#"$root"/}"
  if ! listed="$(resources_of "$k")"; then
    fail "$k is not valid YAML"
    continue
  fi
  mapfile -t resources < <([[ -n "$listed" ]] && printf '%s\n' "$listed")
  ((${#resources[@]})) || fail "$k lists no resources"
  for r in "${resources[@]}"; do
    if [[ ! -f "$dir/$r" ]]; then
      fail "$k lists $r, which is not a file in $dir"
      continue
    fi
    manifests=$((manifests + 1))
    validate "$dir/$r" || fail "$dir/$r is not a valid Kubernetes $kubernetes_version manifest"
  done
  # A manifest next to the kustomization but not listed would never be applied.
  for f in "$dir"/*.yaml; do
    [[ "$(basename "$f")" == kustomization.yaml ]] && continue
    printf '%s\n' "${resources[@]}" | grep -xF "$(basename "$f")" >/dev/null ||
      fail "$f is not listed in the resources: of $k"
  done
  if command -v kubectl >/dev/null; then
    rendered="$(mktemp --suffix=.yaml)"
    if kubectl kustomize "$dir" >"$rendered"; then
      validate "$rendered" | sed "s|$rendered|kustomize($(basename "$dir"))|" ||
        fail "the rendered kustomization $dir is not valid"
    else
      fail "kubectl kustomize $dir failed"
    fi
    rm -f "$rendered"
  fi
done

if ((failures)); then
  echo "validate-k8s: $failures problem(s)" >&2
  exit 1
fi
echo "validate-k8s: ok ($manifests manifests in ${#kustomizations[@]} kustomizations, Kubernetes $kubernetes_version, strict)"
