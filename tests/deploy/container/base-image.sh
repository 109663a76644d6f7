#!/usr/bin/env bash
# Makes the Debian 12 base image deploy/docker/Dockerfile starts from, without
# a container registry: `debootstrap --variant=minbase bookworm` from the
# Debian mirror this machine's apt is configured with, cached as a tarball
# under ~/.cache/certswap/ (rebuilt when older than a week), imported into
# podman as debian:12 and debian:12-slim (the build stage needs only apt).
# Installs podman, runc and debootstrap when missing (needs root).
# Usage: base-image.sh CONTAINERS_CONF_DIR   (writes containers.conf there;
#        callers export CONTAINERS_CONF=DIR/containers.conf)
# Exit 0: imported; 77: this host cannot make or run the image (printed).
set -euo pipefail

conf_dir="${1:?usage: base-image.sh CONTAINERS_CONF_DIR}"
cache="${XDG_CACHE_HOME:-$HOME/.cache}/certswap"
tarball="$cache/debian-12-minbase.tar"

skip() {
  echo "container: SKIP: $*" >&2
  exit 77
}

missing=()
# catatonit: podman builds a pod's pause image from it (kube play).
for tool in podman runc debootstrap catatonit; do
  command -v "$tool" >/dev/null || [[ -x "/usr/libexec/podman/$tool" ]] || missing+=("$tool")
done
if ((${#missing[@]})); then
  ((EUID == 0)) || skip "${missing[*]} not installed, and installing needs root"
  command -v apt-get >/dev/null || skip "${missing[*]} not installed, and this host has no apt-get"
  echo "container: installing ${missing[*]}"
  DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends \
    podman runc debootstrap catatonit >/dev/null ||
    skip "apt-get could not install podman runc debootstrap catatonit"
fi

# This machine's quirks, in the test's own config rather than the host's:
# crun fails on hybrid cgroups (runc works), and podman's default nofile
# and nproc ulimits are above the hard limits runc init gets here, so it
# cannot start a container (EPERM setting the rlimit). nofile: this shell's
# hard limit; nproc: 4096, below the 32768 runc init is held to (more than
# certswap's few threads need).
hard_nofile="$(ulimit -Hn)"
[[ "$hard_nofile" == unlimited ]] && hard_nofile=1048576
mkdir -p "$conf_dir"
cat >"$conf_dir/containers.conf" <<CONF
[containers]
default_ulimits = ["nofile=$hard_nofile:$hard_nofile", "nproc=4096:4096"]

[engine]
runtime = "runc"
events_logger = "file"
CONF
export CONTAINERS_CONF="$conf_dir/containers.conf"

# The first deb822 or one-line source that serves bookworm's main component.
mirror_url() {
  local f
  for f in /etc/apt/sources.list.d/*.sources; do
    [[ -f "$f" ]] || continue
    awk '
      /^[[:space:]]*$/ { if (uri && suites ~ /(^| )bookworm( |$)/ && comps ~ /(^| )main( |$)/) { print uri; found = 1; exit } uri = suites = comps = ""; next }
      /^URIs:/ { uri = $2 }
      /^Suites:/ { $1 = ""; suites = $0 " " }
      /^Components:/ { $1 = ""; comps = $0 " " }
      END { if (!found && uri && suites ~ /(^| )bookworm( |$)/ && comps ~ /(^| )main( |$)/) print uri }
    ' "$f"
  done
  { cat /etc/apt/sources.list /etc/apt/sources.list.d/*.list 2>/dev/null || true; } |
    awk '$1 == "deb" { i = 2; if ($2 ~ /^\[/) while ($i !~ /\]$/) i++; if ($2 ~ /^\[/) i++;
                       if ($(i + 1) == "bookworm") print $i }'
}

if [[ ! -s "$tarball" ]] || [[ -n "$(find "$tarball" -mtime +7 2>/dev/null)" ]]; then
  ((EUID == 0)) || skip "debootstrap needs root to make the base image (no cached $tarball)"
  mirror="$(mirror_url | head -n 1)" || true
  [[ -n "$mirror" ]] || skip "no apt source for bookworm main in /etc/apt; debootstrap needs a Debian mirror"
  echo "container: debootstrap --variant=minbase bookworm from $mirror"
  mkdir -p "$cache"
  rootfs="$(mktemp -d "$cache/rootfs.XXXXXX")"
  trap 'rm -rf "$rootfs"' EXIT
  debootstrap --variant=minbase bookworm "$rootfs" "$mirror" >"$rootfs.log" 2>&1 || {
    tail -n 20 "$rootfs.log" >&2
    rm -f "$rootfs.log"
    skip "debootstrap from $mirror failed (above)"
  }
  rm -f "$rootfs.log"
  # A frozen snapshot mirror serves a Release whose Valid-Until has passed;
  # apt-get update inside the build would refuse it.
  valid_until="$(sed -n 's/^Valid-Until: //p' "$rootfs"/var/lib/apt/lists/*_InRelease 2>/dev/null | head -n 1)"
  if [[ -n "$valid_until" ]] && (($(date -d "$valid_until" +%s) < $(date +%s))); then
    echo 'Acquire::Check-Valid-Until "false";' >"$rootfs/etc/apt/apt.conf.d/10no-check-valid-until"
  fi
  rm -rf "$rootfs"/var/lib/apt/lists/* "$rootfs"/var/cache/apt/archives/*.deb
  tar -C "$rootfs" --numeric-owner -cf "$tarball.tmp" .
  mv "$tarball.tmp" "$tarball"
fi

# Re-import only when the tarball is newer than the image.
tar_id="$(stat -c %Y "$tarball")"
if [[ "$(podman image inspect --format '{{index .Labels "certswap.base"}}' debian:12 2>/dev/null || true)" != "$tar_id" ]]; then
  podman import --quiet --change "LABEL certswap.base=$tar_id" --change 'CMD ["/bin/bash"]' \
    "$tarball" localhost/debian:12 >/dev/null || skip "podman import of $tarball failed"
fi
podman tag localhost/debian:12 localhost/debian:12-slim
echo "container: base image debian:12 ready ($(du -h "$tarball" | cut -f1) rootfs)"
