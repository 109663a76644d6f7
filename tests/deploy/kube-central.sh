#!/usr/bin/env bash
# Applies deploy/kubernetes/central to the kube test bed's namespace (Pod
# Security "restricted" enforced and warned), first as a server-side dry run,
# then for real, with server-side apply over the REST API (no kubectl here).
# Any Warning header (Pod Security warns on a Deployment's pod template that
# way) or non-2xx answer fails. Then the certswap ServiceAccount's own token
# must reach its Secret and lease and be Forbidden on another Secret.
#   kube-central.sh KUBE_DIR
set -euo pipefail
kube_dir="$1"
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
source "$root/tests/testbed/kubernetes/kube-lib.sh"
central="$root/deploy/kubernetes/central"
# Debian's interpreter, where python3-yaml (deploy/install-deps.sh) lives.
/usr/bin/python3 -c 'import yaml' || fail "python3-yaml is missing (deploy/install-deps.sh installs it)"

no_warnings() {
  if grep -i '^Warning:' "$work/headers" >&2; then fail "$1 drew the warnings above"; fi
}

# The REST collection of a kind, from the API server's discovery document.
collection() {
  local api_version="$1" kind="$2" group=/apis/$1
  [[ "$api_version" == v1 ]] && group=/api/v1
  call "$admin" GET "$group"
  expect 200 "discovery $group" >/dev/null
  echo "$group/namespaces/$ns/$(field "[r['name'] for r in j['resources'] if r['kind'] == '$kind' and '/' not in r['name']][0]")"
}

mapfile -t resources < <(/usr/bin/python3 -c '
import sys, yaml
print("\n".join(yaml.safe_load(open(sys.argv[1]))["resources"]))' "$central/kustomization.yaml")
for dry_run in All ""; do
  for r in "${resources[@]}"; do
    read -r api_version kind name < <(/usr/bin/python3 -c '
import sys, yaml
d = yaml.safe_load(open(sys.argv[1]))
print(d["apiVersion"], d["kind"], d["metadata"]["name"])' "$central/$r")
    json="$(/usr/bin/python3 -c 'import json, sys, yaml; print(json.dumps(yaml.safe_load(open(sys.argv[1]))))' "$central/$r")"
    path="$(collection "$api_version" "$kind")/$name?fieldManager=certswap-test&force=true"
    call "$admin" PATCH "$path${dry_run:+&dryRun=$dry_run}" "$json"
    what="apply $r ($kind $name)${dry_run:+, server-side dry run}"
    [[ "$status" == 200 || "$status" == 201 ]] || fail "$what: HTTP $status"
    no_warnings "$what"
    echo "ok: $what (HTTP $status, no warnings)"
  done
done

secrets="/api/v1/namespaces/$ns/secrets"
leases="/apis/coordination.k8s.io/v1/namespaces/$ns/leases"
for path in "$secrets/kafka-app-credentials" "$secrets/not-certswaps" "$leases/certswap-leader"; do
  call "$admin" DELETE "$path"
done
for name in kafka-app-credentials not-certswaps; do
  call "$admin" POST "$secrets" "{\"apiVersion\": \"v1\", \"kind\": \"Secret\", \"metadata\": {\"name\": \"$name\"}}"
  expect 201 "create Secret $name as admin"
done

certswap="$(sa_token certswap)"
call "$certswap" GET "$secrets/kafka-app-credentials"
expect 200 "ServiceAccount certswap reads Secret kafka-app-credentials"
rv="$(field 'j["metadata"]["resourceVersion"]')"
call "$certswap" PUT "$secrets/kafka-app-credentials" "{\"apiVersion\": \"v1\", \"kind\": \"Secret\",
  \"metadata\": {\"name\": \"kafka-app-credentials\", \"resourceVersion\": \"$rv\"},
  \"stringData\": {\"ca.pem\": \"ca\", \"service.cert\": \"cert\", \"service.key\": \"key\"}}"
expect 200 "ServiceAccount certswap updates Secret kafka-app-credentials"
call "$certswap" GET "$secrets/not-certswaps"
expect 403 "ServiceAccount certswap is Forbidden on Secret not-certswaps"
call "$certswap" POST "$leases" '{"apiVersion": "coordination.k8s.io/v1", "kind": "Lease",
  "metadata": {"name": "certswap-leader"}, "spec": {"holderIdentity": "test"}}'
expect 201 "ServiceAccount certswap creates Lease certswap-leader"
call "$certswap" GET "$leases/certswap-leader"
expect 200 "ServiceAccount certswap reads Lease certswap-leader"
call "$certswap" GET "$leases/other-leader"
expect 403 "ServiceAccount certswap is Forbidden on Lease other-leader"
echo "kube-central: deploy/kubernetes/central admitted without warnings; RBAC holds"
