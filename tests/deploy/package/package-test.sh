#!/usr/bin/env bash
# The Debian package as a user installs it: cpack builds
# certswap_<version>_<arch>.deb in BUILD_DIR, lintian judges it (each tag it
# still reports must be listed, with its reason, in deploy/README.md), then
# in a fresh Debian 12 root (the debootstrap image of
# tests/deploy/container/base-image.sh, run by podman with the host's
# network) `apt-get install ./certswap_….deb` takes the dependencies from the
# Debian mirror, and the installed files alone must: print --version, show
# validate --help, check the example configuration, find the preload library
# where `certswap exec` looks, and (with TESTBED_DIR) rotate a certificate
# from the test bed's API emulator, validated against its broker. Then
# `apt-get purge` must leave no file of the package behind.
# Usage: package-test.sh BUILD_DIR [TESTBED_DIR]
# Exit 0: passed; 1: a check failed (printed); 77: this host cannot build or
# run it (printed). apt's downloads are cached in ~/.cache/certswap/package-apt/.
set -euo pipefail

build="${1:?usage: package-test.sh BUILD_DIR [TESTBED_DIR]}"
testbed_dir="${2:-}"
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/../../.." && pwd)"
cache="${XDG_CACHE_HOME:-$HOME/.cache}/certswap/package-apt"
started=$SECONDS
work="$(mktemp -d "${TMPDIR:-/tmp}/certswap-package.XXXXXX")"
name="certswap-package-$$"
cleanup() {
  podman rm -f --time 0 "$name" >/dev/null 2>&1 || true
  rm -rf "$work"
}
trap cleanup EXIT
fail() {
  echo "package: FAIL: $*" >&2
  exit 1
}
skip() {
  echo "package: SKIP: $*" >&2
  exit 77
}

for tool in cpack dpkg-deb dpkg-shlibdeps lintian; do
  command -v "$tool" >/dev/null || skip "$tool not installed (deploy/install-deps.sh installs it)"
done

# --- the package -------------------------------------------------------------------
rm -f "$build"/packages/certswap_*.deb
(cd "$build" && cpack -G DEB >"$work/cpack.log" 2>&1) || { tail -n 30 "$work/cpack.log" >&2; fail "cpack -G DEB failed (above)"; }
debs=("$build"/packages/certswap_*.deb)
((${#debs[@]} == 1)) && [[ -f "${debs[0]}" ]] || fail "cpack made no single certswap_*.deb in $build/packages"
deb="${debs[0]}"
arch="$(dpkg --print-architecture)"
multiarch="$(dpkg-architecture -qDEB_HOST_MULTIARCH)"
version="$(dpkg-deb -f "$deb" Version)"
[[ "$(basename "$deb")" == "certswap_${version}_${arch}.deb" ]] ||
  fail "$(basename "$deb") is not named certswap_<version>_<arch>.deb (version $version, arch $arch)"
echo "package: $(basename "$deb"), $(stat -c %s "$deb") bytes, Installed-Size $(dpkg-deb -f "$deb" Installed-Size) KiB"
depends="$(dpkg-deb -f "$deb" Depends)"
echo "package: Depends: $depends"
for lib in libssl3 librdkafka1 libcurl4 libc6; do
  [[ "$depends" == *"$lib "* || "$depends" == *"$lib," || "$depends" == *"$lib" ]] ||
    fail "Depends has no $lib (dpkg-shlibdeps should find it): $depends"
done
preload="/usr/lib/$multiarch/certswap/libcertswap-preload.so"
dpkg-deb -c "$deb" | awk '{ print $6 }' | sed 's|^\./|/|' >"$work/files"
for f in /usr/bin/certswap "$preload" /usr/share/certswap/certswap-agent.jar /usr/share/man/man1/certswap.1.gz \
  /usr/lib/systemd/system/certswap.service /usr/lib/systemd/system/certswap-rotate.service \
  /usr/lib/systemd/system/certswap-rotate.timer /usr/lib/sysusers.d/certswap.conf \
  /etc/certswap/certswap.env /usr/share/doc/certswap/README.md \
  /usr/share/doc/certswap/copyright /usr/share/doc/certswap/examples/certswap.json; do
  grep -qx -- "$f" "$work/files" || fail "the package has no $f"
done

# lintian: every tag left must be explained in deploy/README.md ("Package").
lintian --tag-display-limit 0 --display-info "$deb" >"$work/lintian.out" 2>&1 || true
unexplained=()
while read -r tag; do
  grep -q -- "\`$tag\`" "$root/deploy/README.md" || unexplained+=("$tag")
done < <(awk -F': ' '/^[EWI]: certswap/ { split($3, t, " "); print t[1] }' "$work/lintian.out" | sort -u)
if ((${#unexplained[@]})); then
  cat "$work/lintian.out" >&2
  fail "lintian tags not explained in deploy/README.md: ${unexplained[*]}"
fi
echo "package: lintian: $(grep -c '^[EWI]: certswap' "$work/lintian.out" || true) tags, all explained in deploy/README.md"

# --- install it into a fresh Debian 12 ---------------------------------------------
status=0
bash "$root/tests/deploy/container/base-image.sh" "$work/conf" || status=$?
((status == 0)) || exit "$status"
export CONTAINERS_CONF="$work/conf/containers.conf"

mounts=(-v "$deb:/pkg/$(basename "$deb"):ro" -v "$root/tests/deploy/package/in-root.sh:/pkg/in-root.sh:ro")
mkdir -p "$cache/archives" "$cache/lists"
mounts+=(-v "$cache/archives:/var/cache/apt/archives" -v "$cache/lists:/var/lib/apt/lists")
env=(-e PRELOAD="$preload" -e DEB="/pkg/$(basename "$deb")" -e PKG_VERSION="$version")
# CI packages its sanitizer build: the leak check is the suite's business, and
# LeakSanitizer needs ptrace, which a container need not allow.
env+=(-e ASAN_OPTIONS=detect_leaks=0)
if [[ -n "$testbed_dir" ]]; then
  [[ -f "$testbed_dir/testbed.json" ]] || fail "no $testbed_dir/testbed.json: the testbed fixture did not start"
  tb() { python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))[sys.argv[2]])' "$testbed_dir/testbed.json" "$1"; }
  user="package-$$-$RANDOM"
  curl -fsS --cacert "$(tb api_ca)" -X POST -H 'Content-Type: application/json' "$(tb api_url)/_testbed/users" \
    -d "{\"project\":\"$(tb project)\",\"service\":\"$(tb service)\",\"username\":\"$user\"}" >/dev/null ||
    fail "the emulator did not create the user $user"
  install -d -m 0755 "$work/secrets"
  install -m 0400 "$(tb token_file)" "$work/secrets/token"
  install -m 0444 "$(tb api_ca)" "$work/secrets/api-ca.pem"
  mounts+=(-v "$work/secrets:/run/secrets:ro")
  env+=(-e CERTSWAP_API_URL="$(tb api_url)" -e CERTSWAP_API_CA_FILE=/run/secrets/api-ca.pem
    -e CERTSWAP_TOKEN_FILE=/run/secrets/token -e CERTSWAP_PROJECT="$(tb project)"
    -e CERTSWAP_SERVICE="$(tb service)" -e CERTSWAP_USER="$user")
else
  echo "package: no TESTBED_DIR: the installed certswap rotates nothing (the other checks run)"
fi
install_start=$SECONDS
podman run --rm --name "$name" --network host "${mounts[@]}" "${env[@]}" localhost/debian:12 \
  bash /pkg/in-root.sh || fail "the checks in the fresh Debian 12 root failed (above)"
echo "package: install, checks and purge in a fresh root took $((SECONDS - install_start)) s"
echo "package: ok in $((SECONDS - started)) s"
