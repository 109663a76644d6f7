#!/usr/bin/env bash
# A real single-node Kubernetes API server for the tests: etcd and
# kube-apiserver (built by build-kube.sh) on free loopback ports. There is no
# kubelet or controller-manager: objects are stored and admitted, pods never run.
#
#   kube-testbed.sh up DIR     writes DIR/kube.json when the API server is ready
#   kube-testbed.sh down DIR   stops both (the API server first); idempotent
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
namespace=certswap-test

# TERM, a bounded wait, then KILL.
stop() {
  local pidfile="$1" seconds="$2" pid
  [[ -f "$pidfile" ]] || return 0
  pid="$(cat "$pidfile")"
  kill -TERM "$pid" 2>/dev/null || true
  for _ in $(seq 1 $((seconds * 10))); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
  kill -KILL "$pid" 2>/dev/null || true
  rm -f "$pidfile"
}

# etcd going away first leaves kube-apiserver retrying instead of exiting.
down() {
  rm -f "$1/kube.json"
  stop "$1/apiserver.pid" 30
  stop "$1/etcd.pid" 15
}

# Four distinct free loopback ports: all are held open until all are chosen.
free_ports() {
  python3 - <<'EOF'
import socket
socks = [socket.socket() for _ in range(4)]
for s in socks:
    s.bind(("127.0.0.1", 0))
print(" ".join(str(s.getsockname()[1]) for s in socks))
EOF
}

# wait_for SECONDS PIDFILE LOG CMD...: until CMD succeeds, while the process lives.
wait_for() {
  local seconds="$1" pidfile="$2" log="$3"; shift 3
  local deadline=$((SECONDS + seconds))
  until "$@" >/dev/null 2>&1; do
    if ! kill -0 "$(cat "$pidfile")" 2>/dev/null; then
      echo "kube-testbed: $(basename "$pidfile" .pid) exited:" >&2; tail -n 40 "$log" >&2; exit 1
    fi
    if ((SECONDS >= deadline)); then
      echo "kube-testbed: $(basename "$pidfile" .pid) not ready after $seconds s:" >&2; tail -n 40 "$log" >&2; exit 1
    fi
    sleep 0.5
  done
}

up() {
  local dir="$1"
  [[ -d "$dir" ]] && down "$dir"
  rm -rf "$dir"
  mkdir -p "$dir/etcd" "$dir/pki"
  dir="$(cd "$dir" && pwd)"
  local bin
  bin="$("$here/build-kube.sh")"
  local etcd_port peer_port metrics_port api_port
  read -r etcd_port peer_port metrics_port api_port < <(free_ports)
  local etcd_url="http://127.0.0.1:$etcd_port"

  # Test data only: fsync buys nothing and costs seconds on a busy disk.
  nohup "$bin/etcd" --name certswap-test --data-dir "$dir/etcd/data" \
    --listen-client-urls "$etcd_url" --advertise-client-urls "$etcd_url" \
    --listen-peer-urls "http://127.0.0.1:$peer_port" \
    --initial-advertise-peer-urls "http://127.0.0.1:$peer_port" \
    --initial-cluster "certswap-test=http://127.0.0.1:$peer_port" \
    --listen-metrics-urls "http://127.0.0.1:$metrics_port" \
    --unsafe-no-fsync </dev/null >"$dir/etcd.log" 2>&1 &
  echo $! >"$dir/etcd.pid"
  wait_for 60 "$dir/etcd.pid" "$dir/etcd.log" curl -sf "$etcd_url/health"

  openssl genrsa -out "$dir/pki/sa.key" 2048 2>/dev/null
  openssl rsa -in "$dir/pki/sa.key" -pubout -out "$dir/pki/sa.pub" 2>/dev/null
  local token
  token="$(openssl rand -hex 32)"
  (
    umask 077
    printf '%s\n' "$token" >"$dir/admin.token"
    printf '%s,admin,admin,"system:masters"\n' "$token" >"$dir/tokens.csv"
  )

  # --allow-privileged as kubeadm clusters run: otherwise a privileged pod is
  # refused as invalid (422) before Pod Security admission can judge it.
  nohup "$bin/kube-apiserver" --etcd-servers "$etcd_url" \
    --secure-port "$api_port" --bind-address 127.0.0.1 --advertise-address 127.0.0.1 \
    --cert-dir "$dir/pki" --token-auth-file "$dir/tokens.csv" --authorization-mode RBAC \
    --service-account-issuer https://kubernetes.default.svc \
    --service-account-key-file "$dir/pki/sa.pub" \
    --service-account-signing-key-file "$dir/pki/sa.key" \
    --service-cluster-ip-range 10.0.0.0/24 --endpoint-reconciler-type none \
    --allow-privileged=true \
    </dev/null >"$dir/kube-apiserver.log" 2>&1 &
  echo $! >"$dir/apiserver.pid"

  # --cert-dir gets a self-signed CA and a serving certificate it signed
  # (IP 127.0.0.1, 10.0.0.1, kubernetes.default.svc; not localhost); apiserver.crt holds
  # both, the CA last. Clients trust the CA alone.
  local server="https://127.0.0.1:$api_port" ca="$dir/ca.crt"
  ready() {
    [[ -s "$dir/pki/apiserver.crt" ]] || return 1
    awk '/BEGIN CERTIFICATE/ { n++; cert = "" } { cert = cert $0 "\n" } END { printf "%s", cert }' \
      "$dir/pki/apiserver.crt" >"$ca"
    curl -sf --cacert "$ca" -H "Authorization: Bearer $token" "$server/readyz"
  }
  wait_for 180 "$dir/apiserver.pid" "$dir/kube-apiserver.log" ready

  api() {
    curl -sS --fail-with-body --cacert "$ca" -H "Authorization: Bearer $token" \
      -H 'Content-Type: application/json' "$@" >/dev/null
  }
  api -X POST "$server/api/v1/namespaces" -d "{
    \"apiVersion\": \"v1\", \"kind\": \"Namespace\",
    \"metadata\": {\"name\": \"$namespace\", \"labels\": {
      \"pod-security.kubernetes.io/enforce\": \"restricted\",
      \"pod-security.kubernetes.io/warn\": \"restricted\",
      \"pod-security.kubernetes.io/audit\": \"restricted\"}}}"
  # The controller-manager would make it; without it every pod that names no
  # ServiceAccount is refused before Pod Security even looks at it.
  api -X POST "$server/api/v1/namespaces/$namespace/serviceaccounts" \
    -d '{"apiVersion": "v1", "kind": "ServiceAccount", "metadata": {"name": "default"}}'

  cat >"$dir/admin.kubeconfig" <<YAML
apiVersion: v1
kind: Config
clusters:
  - name: certswap-test
    cluster:
      server: $server
      certificate-authority-data: $(base64 -w0 "$ca")
users:
  - name: admin
    user:
      token: $token
contexts:
  - name: certswap-test
    context:
      cluster: certswap-test
      user: admin
      namespace: $namespace
current-context: certswap-test
YAML
  chmod 600 "$dir/admin.kubeconfig"

  cat >"$dir/kube.json.tmp" <<JSON
{
  "server": "$server",
  "ca_file": "$ca",
  "admin_token_file": "$dir/admin.token",
  "admin_kubeconfig": "$dir/admin.kubeconfig",
  "namespace": "$namespace",
  "etcd_pid": "$dir/etcd.pid",
  "apiserver_pid": "$dir/apiserver.pid",
  "logs": ["$dir/etcd.log", "$dir/kube-apiserver.log"]
}
JSON
  mv "$dir/kube.json.tmp" "$dir/kube.json"
  echo "kube test bed up: API server $server, namespace $namespace"
}

case "${1:-}" in
  up) up "$2" ;;
  down) down "$2" ;;
  *) echo "usage: kube-testbed.sh up|down DIR" >&2; exit 64 ;;
esac
