#!/usr/bin/env bash
# Runs in the fresh Debian 12 root of package-test.sh: installs $DEB with apt,
# checks the installed files, purges the package. With CERTSWAP_API_URL set
# (the test bed), also rotates a certificate with the installed certswap.
set -euo pipefail
fail() {
  echo "package (in root): FAIL: $*" >&2
  exit 1
}
export DEBIAN_FRONTEND=noninteractive
# Only the Debian mirror: nothing else of the build machine is in this root.
[[ ! -e /usr/bin/certswap ]] || fail "/usr/bin/certswap exists before the install"
apt-get update -qq >/tmp/apt.log 2>&1 || { cat /tmp/apt.log >&2; fail "apt-get update failed"; }
apt-get install -y -qq --no-install-recommends "$DEB" >/tmp/apt.log 2>&1 ||
  { cat /tmp/apt.log >&2; fail "apt-get install $DEB failed"; }
dpkg -L certswap | sort >/tmp/files

version_text="$(certswap --version)" || fail "certswap --version failed"
echo "$version_text" | sed 's/^/package (in root): /'
[[ "$version_text" == "certswap "*$'\n'"commit "*$'\n'"openssl OpenSSL 3"*$'\n'"librdkafka 2"*$'\n'"libcurl "* ]] ||
  fail "certswap --version does not name the version, commit, OpenSSL, librdkafka and libcurl"
[[ "$(certswap version)" == "$version_text" ]] || fail "certswap version differs from --version"
# The package's version is the binary's, as cmake/Version.cmake spells it for Debian.
v="${version_text%%$'\n'*}"
v="${v#certswap }"
deb_v="$v"
[[ "$v" == *-* ]] && { rest="${v#*-}"; deb_v="${v%%-*}+${rest//-/.}"; }
[[ "$deb_v" == "$PKG_VERSION" ]] || fail "certswap says $v (Debian: $deb_v), the package is $PKG_VERSION"
certswap validate --help | grep -q -- '--cert' || fail "certswap validate --help has no --cert"
man -w certswap >/dev/null 2>&1 || [[ -s /usr/share/man/man1/certswap.1.gz ]] || fail "no man page"
certswap check-config --config /usr/share/doc/certswap/examples/certswap.json >/tmp/check.log 2>&1 ||
  { cat /tmp/check.log >&2; fail "the example configuration does not pass check-config"; }

# `certswap exec` finds the package's preload library on its own (no flag, no variable).
[[ -f "$PRELOAD" ]] || fail "no $PRELOAD"
mkdir -p /tmp/out
found="$(CERTSWAP_OUTPUT_DIR=/tmp/out certswap exec -- /usr/bin/env 2>/tmp/exec.log | sed -n 's/^LD_PRELOAD=//p')" ||
  { cat /tmp/exec.log >&2; fail "certswap exec -- env failed"; }
[[ "$found" == *"$PRELOAD"* ]] || { cat /tmp/exec.log >&2; fail "certswap exec preloaded '$found', not $PRELOAD"; }
echo "package (in root): certswap exec preloads $PRELOAD"

# ... and, for a JVM, the package's Java agent. This root has no Java: a
# program named java that prints its environment stands for one.
agent=/usr/share/certswap/certswap-agent.jar
[[ -f "$agent" ]] || fail "no $agent"
mkdir -p /tmp/jvm
printf '#!/bin/sh\nexec /usr/bin/env\n' >/tmp/jvm/java
chmod 755 /tmp/jvm/java
options="$(CERTSWAP_OUTPUT_DIR=/tmp/out certswap exec -- /tmp/jvm/java 2>/tmp/exec.log | sed -n 's/^JAVA_TOOL_OPTIONS=//p')" ||
  { cat /tmp/exec.log >&2; fail "certswap exec -- java failed"; }
[[ "$options" == *"-javaagent:$agent"* ]] || { cat /tmp/exec.log >&2; fail "certswap exec gave java '$options', not $agent"; }
echo "package (in root): certswap exec gives a JVM $agent"

if [[ -n "${CERTSWAP_API_URL:-}" ]]; then
  mkdir -p /tmp/creds
  certswap rotate --output-dir /tmp/creds >/tmp/rotate.log 2>&1 ||
    { cat /tmp/rotate.log >&2; fail "certswap rotate against the test bed failed"; }
  [[ -s /tmp/creds/service.cert && -s /tmp/creds/service.key ]] || fail "rotate left no service.cert/service.key"
  for step in fetch validate-live swap acknowledge; do
    grep -qw -- "$step" /tmp/rotate.log || { cat /tmp/rotate.log >&2; fail "rotate's log has no $step step"; }
  done
  certswap validate --cert /tmp/creds/service.cert --key /tmp/creds/service.key --ca /tmp/creds/ca.pem \
    >/tmp/validate.log 2>&1 || { cat /tmp/validate.log >&2; fail "the rotated set does not validate"; }
  echo "package (in root): certswap rotate fetched, validated and swapped in a set from the test bed"
fi

apt-get purge -y -qq certswap >/tmp/apt.log 2>&1 || { cat /tmp/apt.log >&2; fail "apt-get purge failed"; }
left=()
while read -r f; do
  [[ -d "$f" && ! -L "$f" ]] && continue  # directories the system shares (/usr/bin, ...)
  [[ -e "$f" || -L "$f" ]] && left+=("$f")
done </tmp/files
((${#left[@]} == 0)) || fail "files of the package left after purge: ${left[*]}"
for d in /etc/certswap /usr/share/doc/certswap "$(dirname "$PRELOAD")"; do
  [[ ! -e "$d" ]] || fail "$d left after purge"
done
dpkg -s certswap >/dev/null 2>&1 && fail "dpkg still knows certswap after purge"
echo "package (in root): purged; no file of the package is left"
