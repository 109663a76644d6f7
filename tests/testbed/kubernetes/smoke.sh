#!/usr/bin/env bash
# Proves the kube test bed is the real thing certswap's Kubernetes mode will
# meet: the version, Secret writes guarded by resourceVersion, Pod Security
# enforcement, and RBAC limited by resourceNames for a ServiceAccount token.
#   smoke.sh DIR   (DIR as given to kube-testbed.sh up)
set -euo pipefail
kube_dir="$1"
source "$(dirname "${BASH_SOURCE[0]}")/kube-lib.sh"
secrets="/api/v1/namespaces/$ns/secrets"

call "$admin" GET /version
expect 200 "GET /version"
version="$(field 'j["gitVersion"]')"
[[ "$version" == v1.37.2 ]] || fail "gitVersion is $version, not v1.37.2"
echo "ok: gitVersion $version"

# A rerun on the same fixture starts from nothing.
for name in smoke allowed other; do call "$admin" DELETE "$secrets/$name"; done
for path in "/api/v1/namespaces/$ns/pods/privileged" \
  "/api/v1/namespaces/$ns/serviceaccounts/limited" \
  "/apis/rbac.authorization.k8s.io/v1/namespaces/$ns/roles/limited" \
  "/apis/rbac.authorization.k8s.io/v1/namespaces/$ns/rolebindings/limited"; do
  call "$admin" DELETE "$path"
done

secret() { # NAME VALUE [RESOURCE_VERSION]
  local rv=""
  [[ -n "${3:-}" ]] && rv=", \"resourceVersion\": \"$3\""
  printf '{"apiVersion": "v1", "kind": "Secret", "metadata": {"name": "%s"%s}, "stringData": {"value": "%s"}}' "$1" "$rv" "$2"
}

call "$admin" POST "$secrets" "$(secret smoke one)"
expect 201 "create Secret smoke"
call "$admin" GET "$secrets/smoke"
expect 200 "read Secret smoke"
rv1="$(field 'j["metadata"]["resourceVersion"]')"
[[ "$(field 'j["data"]["value"]')" == "$(printf one | base64)" ]] || fail "Secret smoke does not hold what was written"
call "$admin" PUT "$secrets/smoke" "$(secret smoke two "$rv1")"
expect 200 "update Secret smoke with its resourceVersion $rv1"
rv2="$(field 'j["metadata"]["resourceVersion"]')"
[[ "$rv2" != "$rv1" ]] || fail "the update did not change resourceVersion ($rv1)"
call "$admin" PUT "$secrets/smoke" "$(secret smoke three "$rv1")"
expect 409 "update Secret smoke with the stale resourceVersion $rv1 is a Conflict"
call "$admin" GET "$secrets/smoke"
[[ "$(field 'j["data"]["value"]')" == "$(printf two | base64)" ]] || fail "the refused update changed Secret smoke"

call "$admin" POST "/api/v1/namespaces/$ns/pods" '{
  "apiVersion": "v1", "kind": "Pod", "metadata": {"name": "privileged"},
  "spec": {"containers": [{"name": "c", "image": "debian:12-slim",
    "securityContext": {"privileged": true}}]}}'
expect 403 "privileged Pod refused in $ns"
grep -F 'violates PodSecurity' "$work/body" >/dev/null || fail "the 403 is not Pod Security's"
echo "ok: refused by Pod Security: $(field 'j["message"]')"

call "$admin" POST "/api/v1/namespaces/$ns/serviceaccounts" \
  '{"apiVersion": "v1", "kind": "ServiceAccount", "metadata": {"name": "limited"}}'
expect 201 "create ServiceAccount limited"
call "$admin" POST "/apis/rbac.authorization.k8s.io/v1/namespaces/$ns/roles" '{
  "apiVersion": "rbac.authorization.k8s.io/v1", "kind": "Role", "metadata": {"name": "limited"},
  "rules": [{"apiGroups": [""], "resources": ["secrets"], "resourceNames": ["allowed"],
             "verbs": ["get", "update", "patch", "watch"]}]}'
expect 201 "create Role limited"
call "$admin" POST "/apis/rbac.authorization.k8s.io/v1/namespaces/$ns/rolebindings" '{
  "apiVersion": "rbac.authorization.k8s.io/v1", "kind": "RoleBinding", "metadata": {"name": "limited"},
  "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "Role", "name": "limited"},
  "subjects": [{"kind": "ServiceAccount", "name": "limited"}]}'
expect 201 "create RoleBinding limited"
for name in allowed other; do
  call "$admin" POST "$secrets" "$(secret "$name" x)"
  expect 201 "create Secret $name"
done

limited="$(sa_token limited)"
call "$limited" GET "$secrets/allowed"
expect 200 "ServiceAccount limited reads Secret allowed"
rv="$(field 'j["metadata"]["resourceVersion"]')"
call "$limited" PUT "$secrets/allowed" "$(secret allowed y "$rv")"
expect 200 "ServiceAccount limited updates Secret allowed"
call "$limited" GET "$secrets/other"
expect 403 "ServiceAccount limited is Forbidden on Secret other"
call "$limited" PUT "$secrets/other" "$(secret other y)"
expect 403 "ServiceAccount limited cannot update Secret other"
call "$limited" GET "$secrets"
expect 403 "ServiceAccount limited cannot list Secrets"
echo "kube smoke: all checks passed"
