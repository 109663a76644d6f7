#!/usr/bin/env bash
# The Helm chart deploy/helm/certswap against the kube test bed's real API
# server (namespace with Pod Security "restricted" enforced and warned):
#   1. helm lint --strict (default values, and with notifyRestart);
#   2. helm template with the default values, then with notifyRestart (and the
#      test's own Secret and Lease names), each rendered object applied with
#      server-side apply over the REST API (no kubectl here), first as a
#      server-side dry run, then for real; any Warning header (Pod Security
#      warns on a pod template that way) or non-2xx answer fails;
#   3. helm install --dry-run=server with the admin kubeconfig (and proof that
#      it consulted the server: a release named like the applied objects is a
#      conflict);
#   4. the chart's ServiceAccount's own token (TokenRequest) reads and updates
#      its Secret and Lease, patches the notifyRestart workload, and is
#      Forbidden on another Secret, Lease and Deployment.
# Names start with helm- so that kube.central-manifests (same namespace,
# possibly at the same time) never meets them.
#   kube-helm.sh KUBE_DIR
set -euo pipefail
kube_dir="$1"
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
source "$root/tests/testbed/kubernetes/kube-lib.sh"
chart="$root/deploy/helm/certswap"
# Debian's interpreter, where python3-yaml (deploy/install-deps.sh) lives.
/usr/bin/python3 -c 'import yaml' || fail "python3-yaml is missing (deploy/install-deps.sh installs it)"

# run-all.sh builds helm before ctest; a cold cache builds it here (slow).
helm="$(bash "$root/tests/testbed/kubernetes/build-helm.sh")"
# Helm's own state (repositories, cache, plugins) stays in the scratch dir.
export HELM_CACHE_HOME="$work/helm/cache" HELM_CONFIG_HOME="$work/helm/config" \
  HELM_DATA_HOME="$work/helm/data" KUBECONFIG=/dev/null
"$helm" version
release=helm-check
secret=helm-app-credentials
lease=helm-leader

no_warnings() {
  if grep -i '^Warning:' "$work/headers" >&2; then fail "$1 drew the warnings above"; fi
}

# 1. lint, strict: warnings fail too.
cat >"$work/restart-values.yaml" <<YAML
secret:
  name: $secret
leaderLease:
  name: $lease
notifyRestart:
  - deployment/helm-app
  - statefulset/helm-db
YAML
"$helm" lint --strict "$chart" || fail "helm lint --strict (default values)"
echo "ok: helm lint --strict (default values)"
"$helm" lint --strict "$chart" -f "$work/restart-values.yaml" || fail "helm lint --strict (notifyRestart)"
echo "ok: helm lint --strict (notifyRestart)"
if "$helm" template "$release" "$chart" --set 'notifyRestart={pod/x}' >"$work/bad.out" 2>&1; then
  fail "notifyRestart pod/x rendered; it should have been refused"
fi
grep -q 'notifyRestart: "pod/x"' "$work/bad.out" || { cat "$work/bad.out" >&2; fail "notifyRestart pod/x: unexpected error"; }
echo "ok: notifyRestart pod/x refused at render time"

# The REST collection of a kind, from the API server's discovery document.
collection() {
  local api_version="$1" kind="$2" group=/apis/$1
  [[ "$api_version" == v1 ]] && group=/api/v1
  call "$admin" GET "$group"
  expect 200 "discovery $group" >/dev/null
  echo "$group/namespaces/$ns/$(field "[r['name'] for r in j['resources'] if r['kind'] == '$kind' and '/' not in r['name']][0]")"
}

# 2. helm template, then every rendered object applied: dry run, then for real.
# split DIR < rendered YAML: one JSON file per object, and DIR/index with
# "FILE APIVERSION KIND NAME" lines.
split() {
  mkdir -p "$1"
  /usr/bin/python3 -c '
import json, os, sys, yaml
out = sys.argv[1]
with open(os.path.join(out, "index"), "w") as index:
    for n, d in enumerate(d for d in yaml.safe_load_all(sys.stdin) if d):
        path = os.path.join(out, "%02d.json" % n)
        json.dump(d, open(path, "w"))
        print(path, d["apiVersion"], d["kind"], d["metadata"]["name"], file=index)' "$1"
}
apply_rendered() { # WHAT DIR
  local what="$1" dir="$2" file api_version kind name
  for dry_run in All ""; do
    while read -r file api_version kind name; do
      path="$(collection "$api_version" "$kind")/$name?fieldManager=certswap-test&force=true"
      call "$admin" PATCH "$path${dry_run:+&dryRun=$dry_run}" "$(cat "$file")"
      local step="apply $kind $name ($what)${dry_run:+, server-side dry run}"
      [[ "$status" == 200 || "$status" == 201 ]] || fail "$step: HTTP $status"
      no_warnings "$step"
      echo "ok: $step (HTTP $status, no warnings)"
    done <"$dir/index"
  done
}
# What a render holds: the kinds, the Role's apps rules and the restart args.
summary() { # DIR
  /usr/bin/python3 -c '
import glob, json, sys
docs = [json.load(open(p)) for p in sorted(glob.glob(sys.argv[1] + "/*.json"))]
kinds = sorted(d["kind"] for d in docs)
role = next(d for d in docs if d["kind"] == "Role")
apps = ["%s:%s" % (r["resources"][0], ",".join(r["resourceNames"])) for r in role["rules"] if r["apiGroups"] == ["apps"]]
dep = next(d for d in docs if d["kind"] == "Deployment")
c = dep["spec"]["template"]["spec"]["containers"][0]
env = {e["name"]: e.get("value") for e in c["env"]}
args = c["args"]
restarts = [args[i + 1] for i, a in enumerate(args) if a == "--notify-restart"]
print(" ".join(kinds), "|", " ".join(apps) or "-", "|", " ".join(restarts) or "-", "|",
      env["CERTSWAP_KUBERNETES_SECRET"], env["CERTSWAP_LEADER_LEASE"], dep["spec"]["replicas"])' "$1"
}

"$helm" template "$release" "$chart" --namespace "$ns" >"$work/default.yaml" || fail "helm template (default values)"
split "$work/default" <"$work/default.yaml"
got="$(summary "$work/default")"
want="Deployment Role RoleBinding ServiceAccount | - | - | \$(POD_NAMESPACE)/kafka-app-credentials \$(POD_NAMESPACE)/certswap-leader 2"
[[ "$got" == "$want" ]] || fail "default render: got \"$got\", want \"$want\""
echo "ok: helm template (default values): $got"
apply_rendered "default values" "$work/default"

"$helm" template "$release" "$chart" --namespace "$ns" -f "$work/restart-values.yaml" >"$work/restart.yaml" \
  || fail "helm template (notifyRestart)"
split "$work/restart" <"$work/restart.yaml"
got="$(summary "$work/restart")"
want="Deployment Role RoleBinding ServiceAccount | deployments:helm-app statefulsets:helm-db | deployment/helm-app statefulset/helm-db | \$(POD_NAMESPACE)/$secret \$(POD_NAMESPACE)/$lease 2"
[[ "$got" == "$want" ]] || fail "notifyRestart render: got \"$got\", want \"$want\""
echo "ok: helm template (notifyRestart): $got"
apply_rendered notifyRestart "$work/restart"

# 3. helm install against the API server, without installing.
/usr/bin/python3 - "$kube_dir/kube.json" "$work/kubeconfig" <<'PY'
import json, shutil, sys
shutil.copy(json.load(open(sys.argv[1]))["admin_kubeconfig"], sys.argv[2])
PY
chmod 600 "$work/kubeconfig"
"$helm" install helm-dry-run "$chart" --dry-run=server --kubeconfig "$work/kubeconfig" --namespace "$ns" \
  -f "$work/restart-values.yaml" >"$work/install.out" 2>&1 || { cat "$work/install.out" >&2; fail "helm install --dry-run=server"; }
grep -q '^STATUS: pending-install' "$work/install.out" && grep -q '^kind: Deployment' "$work/install.out" \
  || { cat "$work/install.out" >&2; fail "helm install --dry-run=server: no pending-install release with a Deployment"; }
echo "ok: helm install --dry-run=server ($(grep -c '^kind: ' "$work/install.out") objects, the server's capabilities, no release stored)"
call "$admin" GET "/api/v1/namespaces/$ns/secrets?labelSelector=owner%3Dhelm"
expect 200 "list Helm's release Secrets"
[[ "$(field 'len(j["items"])')" == 0 ]] || fail "helm install --dry-run=server stored a release"
call "$admin" GET "/apis/apps/v1/namespaces/$ns/deployments/helm-dry-run-certswap"
expect 404 "helm install --dry-run=server created no Deployment"
# It asked the server: the objects applied above (no Helm ownership
# annotations) are a conflict for a release of their name, which a client-side
# dry run cannot know. Helm sends no server-side dry run of the objects
# themselves, so Pod Security's verdict is the apply above, not this.
if "$helm" install "$release" "$chart" --dry-run=server --kubeconfig "$work/kubeconfig" --namespace "$ns" \
  -f "$work/restart-values.yaml" >"$work/conflict.out" 2>&1; then
  fail "helm install $release --dry-run=server ignored the existing unowned objects"
fi
grep -q "ServiceAccount \"$release-certswap\" in namespace \"$ns\" exists and cannot be imported" "$work/conflict.out" \
  || { cat "$work/conflict.out" >&2; fail "helm install $release --dry-run=server: unexpected error"; }
echo "ok: helm install $release --dry-run=server reports the existing unowned objects (the server was consulted)"

# 4. The chart's ServiceAccount, with its own token.
sa="$release-certswap"
secrets="/api/v1/namespaces/$ns/secrets"
leases="/apis/coordination.k8s.io/v1/namespaces/$ns/leases"
deployments="/apis/apps/v1/namespaces/$ns/deployments"
for path in "$secrets/$secret" "$secrets/helm-other" "$leases/$lease" "$deployments/helm-app"; do
  call "$admin" DELETE "$path"
done
for name in "$secret" helm-other; do
  call "$admin" POST "$secrets" "{\"apiVersion\": \"v1\", \"kind\": \"Secret\", \"metadata\": {\"name\": \"$name\"}}"
  expect 201 "create Secret $name as admin"
done
# The workload notifyRestart names, as Pod Security restricted admits it.
call "$admin" POST "$deployments" '{"apiVersion": "apps/v1", "kind": "Deployment",
  "metadata": {"name": "helm-app"},
  "spec": {"selector": {"matchLabels": {"app": "helm-app"}},
    "template": {"metadata": {"labels": {"app": "helm-app"}},
      "spec": {"securityContext": {"runAsNonRoot": true, "seccompProfile": {"type": "RuntimeDefault"}},
        "containers": [{"name": "app", "image": "registry.example.com/app:1",
          "securityContext": {"allowPrivilegeEscalation": false, "capabilities": {"drop": ["ALL"]}}}]}}}}'
expect 201 "create Deployment helm-app as admin"
no_warnings "create Deployment helm-app"

token="$(sa_token "$sa")"
call "$token" GET "$secrets/$secret"
expect 200 "ServiceAccount $sa reads Secret $secret"
rv="$(field 'j["metadata"]["resourceVersion"]')"
call "$token" PUT "$secrets/$secret" "{\"apiVersion\": \"v1\", \"kind\": \"Secret\",
  \"metadata\": {\"name\": \"$secret\", \"resourceVersion\": \"$rv\"},
  \"stringData\": {\"ca.pem\": \"ca\", \"service.cert\": \"cert\", \"service.key\": \"key\"}}"
expect 200 "ServiceAccount $sa updates Secret $secret"
call "$token" GET "$secrets/helm-other"
expect 403 "ServiceAccount $sa is Forbidden on Secret helm-other"
call "$token" GET "$secrets/kafka-app-credentials"
expect 403 "ServiceAccount $sa is Forbidden on Secret kafka-app-credentials (the default name, not this release's)"
call "$token" POST "$leases" "{\"apiVersion\": \"coordination.k8s.io/v1\", \"kind\": \"Lease\",
  \"metadata\": {\"name\": \"$lease\"}, \"spec\": {\"holderIdentity\": \"a\"}}"
expect 201 "ServiceAccount $sa creates Lease $lease"
call "$token" GET "$leases/$lease"
expect 200 "ServiceAccount $sa reads Lease $lease"
rv="$(field 'j["metadata"]["resourceVersion"]')"
call "$token" PUT "$leases/$lease" "{\"apiVersion\": \"coordination.k8s.io/v1\", \"kind\": \"Lease\",
  \"metadata\": {\"name\": \"$lease\", \"resourceVersion\": \"$rv\"}, \"spec\": {\"holderIdentity\": \"b\"}}"
expect 200 "ServiceAccount $sa updates Lease $lease"
call "$token" GET "$leases/certswap-leader"
expect 403 "ServiceAccount $sa is Forbidden on Lease certswap-leader"

# notifyRestart: the patch certswap's kubernetes-restart notifier sends.
patch_restart() { # TOKEN DEPLOYMENT
  status="$(curl -sS --cacert "$ca" -H "Authorization: Bearer $1" -X PATCH \
    -H 'Content-Type: application/strategic-merge-patch+json' \
    --data-binary '{"spec": {"template": {"metadata": {"annotations": {"certswap/restarted-for": "test"}}}}}' \
    -o "$work/body" -D "$work/headers" -w '%{http_code}' "$server$deployments/$2")"
}
patch_restart "$token" helm-app
expect 200 "ServiceAccount $sa restarts Deployment helm-app (notifyRestart)"
no_warnings "restart Deployment helm-app"
[[ "$(field 'j["spec"]["template"]["metadata"]["annotations"]["certswap/restarted-for"]')" == test ]] \
  || fail "Deployment helm-app has no certswap/restarted-for annotation"
patch_restart "$token" helm-not-listed
expect 403 "ServiceAccount $sa is Forbidden to restart Deployment helm-not-listed"
# No StatefulSet controller here, so the statefulset entry is asked about.
call "$token" POST /apis/authorization.k8s.io/v1/selfsubjectaccessreviews "{
  \"apiVersion\": \"authorization.k8s.io/v1\", \"kind\": \"SelfSubjectAccessReview\",
  \"spec\": {\"resourceAttributes\": {\"namespace\": \"$ns\", \"group\": \"apps\",
    \"resource\": \"statefulsets\", \"name\": \"helm-db\", \"verb\": \"patch\"}}}"
expect 201 "SelfSubjectAccessReview of ServiceAccount $sa"
[[ "$(field 'j["status"]["allowed"]')" == True ]] || fail "ServiceAccount $sa may not patch StatefulSet helm-db"
echo "ok: ServiceAccount $sa may patch StatefulSet helm-db (notifyRestart)"
call "$token" GET "$deployments/helm-app"
expect 403 "ServiceAccount $sa is Forbidden to read Deployment helm-app (patch only)"
echo "kube-helm: deploy/helm/certswap lints, renders and is admitted without warnings; RBAC holds"
