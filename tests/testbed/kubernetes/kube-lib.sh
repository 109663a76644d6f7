# Sourced by the tests that talk to the kube test bed with curl (no kubectl
# here). Needs $kube_dir (the DIR of kube-testbed.sh up) set before sourcing.
#   call TOKEN METHOD PATH [JSON]  -> $status, $work/body, $work/headers
#   expect CODE WHAT               fails the script unless the last call got CODE
#   field EXPR                     a Python expression over the body's JSON `j`

[[ -f "$kube_dir/kube.json" ]] || { echo "FAIL: no $kube_dir/kube.json (is the kubernetes fixture up?)" >&2; exit 1; }
kube_get() { python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))[sys.argv[2]])' "$kube_dir/kube.json" "$1"; }
server="$(kube_get server)"
ca="$(kube_get ca_file)"
ns="$(kube_get namespace)"
admin="$(cat "$(kube_get admin_token_file)")"
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT

call() {
  local token="$1" method="$2" path="$3"
  local args=(-sS --cacert "$ca" -H "Authorization: Bearer $token" -X "$method"
    -o "$work/body" -D "$work/headers" -w '%{http_code}')
  if (($# > 3)); then
    local type=application/json
    [[ "$method" == PATCH ]] && type=application/apply-patch+yaml
    args+=(-H "Content-Type: $type" --data-binary "$4")
  fi
  status="$(curl "${args[@]}" "$server$path")"
}

fail() {
  echo "FAIL: $*" >&2
  [[ -f "$work/body" ]] && { echo "--- last response body:" >&2; cat "$work/body" >&2; echo >&2; }
  exit 1
}

expect() {
  [[ "$status" == "$1" ]] || fail "$2: expected HTTP $1, got $status"
  echo "ok: $2 (HTTP $status)"
}

field() { python3 -c 'import json,sys; j=json.load(open(sys.argv[1])); print(eval(sys.argv[2]))' "$work/body" "$1"; }

# A ServiceAccount token from the TokenRequest API (what kubelet would project).
sa_token() {
  call "$admin" POST "/api/v1/namespaces/$ns/serviceaccounts/$1/token" \
    '{"apiVersion": "authentication.k8s.io/v1", "kind": "TokenRequest", "spec": {"expirationSeconds": 600}}'
  expect 201 "TokenRequest for ServiceAccount $1" >&2
  field 'j["status"]["token"]'
}
