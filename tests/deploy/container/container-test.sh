#!/usr/bin/env bash
# Builds deploy/docker/Dockerfile with podman (base image made by
# base-image.sh, no registry) and runs the image as a Kubernetes pod would:
# `init` as a one-shot container, then `run` as a detached sidecar on the same
# output volume, against the test bed (network host).
# Usage: container-test.sh image          (build it and check it statically)
#        container-test.sh run TESTBED_DIR  (run the image `image` built)
#        container-test.sh kube TESTBED_DIR (podman kube play of the shipped
#                                            Deployment, adapted by kube-adapt.py)
# Exit 0: every check passed; 1: a check failed (printed); 77: this host
# cannot build or run containers (printed).
set -euo pipefail

mode="${1:?usage: container-test.sh image | run TESTBED_DIR | kube TESTBED_DIR}"
testbed_dir="${2:-}"
[[ "$mode" == image || ( "$mode" =~ ^(run|kube)$ && -n "$testbed_dir" ) ]] ||
  { echo "usage: container-test.sh image | run TESTBED_DIR | kube TESTBED_DIR" >&2; exit 64; }
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/../../.." && pwd)"
image=localhost/certswap:test
uid=65532
started=$SECONDS

work="$(mktemp -d "${TMPDIR:-/tmp}/certswap-container.XXXXXX")"
name="certswap-test-$$"
pod=kafka-app
cleanup() {
  podman rm -f --time 0 "$name" >/dev/null 2>&1 || true
  if [[ "$mode" == kube ]]; then podman pod rm -f --time 0 "$pod" >/dev/null 2>&1 || true; fi
  rm -rf "$work"
}
trap cleanup EXIT

fail() {
  echo "container: FAIL: $*" >&2
  if podman container exists "$name" 2>/dev/null; then
    echo "=== podman logs $name" >&2
    podman logs "$name" 2>&1 | tail -n 30 >&2
  fi
  exit 1
}

status=0
bash "$root/tests/deploy/container/base-image.sh" "$work/conf" || status=$?
((status == 0)) || exit "$status"
export CONTAINERS_CONF="$work/conf/containers.conf"

# --- the image ------------------------------------------------------------------
if [[ "$mode" == image ]]; then
  build_start=$SECONDS
  # The build context has no .git: the version and commit come as build arguments.
  commit="$(git -C "$root" rev-parse HEAD 2>/dev/null || true)"
  describe="$(git -C "$root" describe --tags --always --dirty 2>/dev/null || true)"
  podman build --pull=never --quiet -t "$image" -f "$root/deploy/docker/Dockerfile" \
    --build-arg CERTSWAP_SOURCE_DESCRIBE="$describe" --build-arg CERTSWAP_SOURCE_COMMIT="$commit" \
    "$root" >/dev/null ||
    fail "podman build of deploy/docker/Dockerfile failed (above)"
  echo "container: image built in $((SECONDS - build_start)) s"
  if [[ -n "$commit" ]]; then
    version="$(podman run --rm "$image" --version)" || fail "certswap --version does not run in the image"
    grep -qF "$commit" <<<"$version" || fail "the image's --version does not name commit $commit: $version"
  fi

  size="$(podman image inspect --format '{{.Size}}' "$image")"
  echo "container: image size $((size / 1000)) kB"
  # 27.9 MB: what ldd resolves is 26.3 MB, 9.4 MB of it libraries only
  # Debian's libcurl4 brings (GnuTLS, Kerberos, LDAP, RTMP, SSH), which certswap
  # never uses but the loader needs (deploy/README.md, "Image"). The budget
  # catches a library that comes back or a new one, not that floor.
  ((size < 28000000)) || fail "the image is $size bytes, over the 28 MB budget"

  for tool in /bin/sh /bin/bash /usr/bin/apt-get /usr/bin/dpkg; do
    if podman run --rm --entrypoint "$tool" "$image" -c true >/dev/null 2>&1; then
      fail "$tool runs in the image: the runtime stage must have no shell or package manager"
    fi
  done
  podman run --rm "$image" --help >/dev/null ||
    fail "certswap --help does not run in the image: a shared library is missing"
  # The Debian package's layout (the build stage unpacks the .deb cpack made):
  # the binary and the preload library where the package puts them (and where
  # `certswap init --install-preload` looks), nothing of a hand install.
  multiarch="$(dpkg-architecture -qDEB_HOST_MULTIARCH)"
  podman create --name "$name" "$image" >/dev/null || fail "podman create of $image failed"
  podman export "$name" | tar -t | sed 's|^\./||; s|/$||' >"$work/image-files" ||
    fail "podman export of $image failed"
  podman rm "$name" >/dev/null
  for f in usr/bin/certswap "usr/lib/$multiarch/certswap/libcertswap-preload.so" \
    usr/share/doc/certswap/copyright; do
    grep -qxF "$f" "$work/image-files" || fail "the image has no /$f, where the Debian package puts it"
  done
  if grep '^usr/local/' "$work/image-files" >&2; then
    fail "the image has files under /usr/local (above): the package puts nothing there"
  fi
  echo "container: ok in $((SECONDS - started)) s"
  exit 0
fi
podman image exists "$image" || fail "no image $image: deploy.container.image did not build it"

# --- init + sidecar against the test bed -----------------------------------------
[[ -f "$testbed_dir/testbed.json" ]] || fail "no $testbed_dir/testbed.json: the testbed fixture did not start"
tb() { python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))[sys.argv[2]])' "$testbed_dir/testbed.json" "$1"; }
api="$(tb api_url)"
project="$(tb project)"
service="$(tb service)"
user=app
# The secrets as a pod mounts them: readable by the container's user only.
install -d -m 0755 "$work/secrets"
install -o "$uid" -g "$uid" -m 0400 "$(tb token_file)" "$work/secrets/token"
install -o "$uid" -g "$uid" -m 0444 "$(tb api_ca)" "$work/secrets/api-ca.pem"
install -d -o "$uid" -g "$uid" -m 0755 "$work/creds"
port="$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')"
endpoint="http://127.0.0.1:$port"
ready() { curl -fsS -o /dev/null "$endpoint/readyz" 2>/dev/null; }
control() { curl -fsS --cacert "$(tb api_ca)" "$@"; }
acks() {
  control "$api/_testbed/acks?project=$project&service=$service&username=$user" |
    python3 -c 'import json,sys; print(json.load(sys.stdin)["count"])'
}
renew() {
  control -X POST -H 'Content-Type: application/json' "$api/_testbed/renew" \
    -d "{\"project\":\"$project\",\"service\":\"$service\",\"username\":\"$user\",\"ou\":\"$1\"}" >/dev/null ||
    fail "the emulator refused the renewal"
}

# --- podman kube play of the shipped Deployment -----------------------------------
if [[ "$mode" == kube ]]; then
  # The pod's volumes as hostPath directories (kube-adapt.py says why).
  for volume in kafka-certs certswap-state app-run aiven-token; do
    install -d -o "$uid" -g "$uid" -m 0750 "$work/volumes/$volume"
  done
  install -o "$uid" -g "$uid" -m 0400 "$(tb token_file)" "$work/volumes/aiven-token/token"
  install -o "$uid" -g "$uid" -m 0444 "$(tb api_ca)" "$work/volumes/aiven-token/api-ca.pem"
  # Debian's python3-yaml (deploy/install-deps.sh), whatever python3 is first on PATH.
  /usr/bin/python3 "$root/tests/deploy/container/kube-adapt.py" \
    "$root/deploy/kubernetes/app-with-sidecar" "$work" "$api" "$project" "$service" "$user" "$port" \
    >"$work/play.yaml" || fail "kube-adapt.py could not adapt deploy/kubernetes/app-with-sidecar"
  podman pod rm -f --time 0 "$pod" >/dev/null 2>&1 || true
  podman kube play "$work/play.yaml" >"$work/play.out" 2>&1 ||
    { cat "$work/play.out" >&2; fail "podman kube play of the adapted Deployment failed (above)"; }
  kube_logs() { podman logs "$pod-$1" 2>&1; }
  kube_fail() {
    for c in certswap-init certswap app; do echo "=== podman logs $pod-$c" >&2; kube_logs "$c" | tail -n 20 >&2; done
    fail "$@"
  }
  kube_wait() {
    local what="$1" deadline=$((SECONDS + 60))
    shift
    until "$@"; do
      ((SECONDS < deadline)) || kube_fail "gave up after 60 s waiting for $what"
      [[ "$(podman inspect --format '{{.State.Running}}' "$pod-certswap" 2>/dev/null)" == true ]] ||
        kube_fail "the certswap sidecar of the pod is not running while waiting for $what"
      sleep 0.2
    done
  }
  [[ "$(podman inspect --format '{{.State.ExitCode}}' "$pod-certswap-init")" == 0 ]] ||
    kube_fail "the init container did not exit 0"
  kube_wait "/readyz of the sidecar" ready
  app_started() { kube_logs app | grep '^started with /var/run/kafka-certs/service.cert' >/dev/null; }
  kube_wait "the app container to start" app_started
  # init --install-preload put the library in the shared volume, and the app
  # container's LD_PRELOAD entry (the only change an app needs) loaded it.
  installed="$work/volumes/kafka-certs/.certswap-reload/libcertswap-preload.so"
  [[ "$(stat -c '%a %u' "$installed" 2>/dev/null)" == "644 $uid" ]] ||
    kube_fail "init --install-preload did not leave $installed (mode 644, uid $uid)"
  kube_logs app | grep '^preload library loaded$' >/dev/null ||
    kube_fail "the app container did not load the preload library from the shared volume"
  acks_before="$(acks)"
  renew kube
  acknowledged() { (($(acks) > acks_before)); }
  kube_wait "the sidecar to acknowledge the renewal" acknowledged
  reloaded() { kube_logs app | grep '^SIGHUP: reloading /var/run/kafka-certs/service.cert' >/dev/null; }
  kube_wait "the app container to receive SIGHUP" reloaded
  live_subject="$(openssl x509 -noout -subject -in "$work/volumes/kafka-certs/service.cert")"
  [[ "$live_subject" == *OU*kube* ]] || kube_fail "the live certificate is not the renewed one: $live_subject"
  podman pod stop --time 10 "$pod" >/dev/null || kube_fail "podman pod stop failed"
  (($(acks) == acks_before + 1)) || kube_fail "$(($(acks) - acks_before)) acknowledgements for one renewal, expected 1"
  echo "container: kube play: init (preload installed), sidecar, SIGHUP to the app and one acknowledgement in $((SECONDS - started)) s"
  exit 0
fi

hardened=(--network host --user "$uid:$uid" --read-only --cap-drop ALL
  --security-opt no-new-privileges
  -v "$work/secrets:/run/secrets:ro" -v "$work/creds:/creds"
  -e CERTSWAP_API_URL="$api" -e CERTSWAP_API_CA_FILE=/run/secrets/api-ca.pem
  -e CERTSWAP_TOKEN_FILE=/run/secrets/token -e CERTSWAP_PROJECT="$project"
  -e CERTSWAP_SERVICE="$service" -e CERTSWAP_USER="$user" -e CERTSWAP_OUTPUT_DIR=/creds)

podman run --rm "${hardened[@]}" "$image" init || fail "certswap init in the container failed (above)"
[[ -s "$work/creds/service.key" ]] || fail "init wrote no service.key into the output volume"
podman run -d --name "$name" "${hardened[@]}" "$image" run \
  --poll-interval 1s --renewal-poll-interval 1s --listen "127.0.0.1:$port" >/dev/null ||
  fail "podman run -d of certswap run failed (above)"

# Bounded waits on a condition, polled every 0.2 s.
wait_for() {
  local what="$1" deadline=$((SECONDS + 60))
  shift
  until "$@"; do
    ((SECONDS < deadline)) || fail "gave up after 60 s waiting for $what"
    [[ "$(podman inspect --format '{{.State.Running}}' "$name")" == true ]] ||
      fail "the sidecar exited while waiting for $what"
    sleep 0.2
  done
}
wait_for "/readyz of the sidecar" ready

acks_before="$(acks)"
renew container
renew_start=$SECONDS
acknowledged() { (($(acks) > acks_before)); }
wait_for "the sidecar to acknowledge the renewal" acknowledged
live_subject="$(openssl x509 -noout -subject -in "$work/creds/service.cert")"
[[ "$live_subject" == *OU*container* ]] || fail "the live certificate is not the renewed one: $live_subject"
echo "container: renewal live and acknowledged $((SECONDS - renew_start)) s after the API renewed"

for path in /healthz /readyz /metrics; do
  curl -fsS -o /dev/null "$endpoint$path" || fail "GET $path on the sidecar failed"
done
curl -fsS "$endpoint/metrics" | grep '^certswap_' >/dev/null || fail "/metrics has no certswap_ metric"

stop_start=$SECONDS
podman stop --time 10 "$name" >/dev/null || fail "podman stop failed"
echo "container: podman stop took $((SECONDS - stop_start)) s (grace period 10 s)"
exit_code="$(podman inspect --format '{{.State.ExitCode}}' "$name")"
((exit_code == 0)) || fail "the sidecar exited $exit_code on SIGTERM, expected 0"
(($(acks) == acks_before + 1)) || fail "$(($(acks) - acks_before)) acknowledgements for one renewal, expected 1"

while read -r owner mode file; do
  [[ "$owner" == "$uid" ]] || fail "$file is owned by uid $owner, expected $uid"
  case "$file" in
    */..data/service.key | */..data/bundle.pem) want=600 ;;
    */..data/*) want=644 ;;
    */.certswap/*) want=600 ;;
    *) continue ;;
  esac
  [[ "$mode" == "$want" ]] || fail "$file has mode $mode, expected $want"
done < <(find "$work/creds/" -type f -printf '%U %m %p\n' | sed 's|creds/\.\.[0-9][0-9_.]*/|creds/..data/|')

echo "container: ok in $((SECONDS - started)) s"
