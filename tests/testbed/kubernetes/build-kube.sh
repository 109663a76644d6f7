#!/usr/bin/env bash
# Builds a real etcd and kube-apiserver from the Go module proxy (no registry
# or release download is reachable here; ../shared facts in
# tests/testbed/README.md) and caches the two binaries, nothing else, under
# ~/.cache/certswap/kube-<version>/. A warm cache makes this a no-op.
#
#   build-kube.sh            prints the cache directory holding etcd and kube-apiserver
set -euo pipefail

kube_version=1.37.2   # k8s.io/kubernetes; its staging modules are v0.37.2
etcd_version=3.6.16   # the API server's supported range starts at 3.5
cache="${CERTSWAP_CACHE_DIR:-$HOME/.cache/certswap}/kube-$kube_version"
if [[ -x "$cache/kube-apiserver" && -x "$cache/etcd" ]]; then
  echo "$cache"
  exit 0
fi
# Go comes with this kind of machine (/usr/local/go); where it does not, the
# same toolchain the go command would fetch for GOTOOLCHAIN comes from the Go
# module proxy, cached beside the binaries.
go_version=1.26.8
[[ -x /usr/local/go/bin/go ]] && PATH="/usr/local/go/bin:$PATH"
if ! command -v go >/dev/null; then
  toolchain="${CERTSWAP_CACHE_DIR:-$HOME/.cache/certswap}/go-$go_version"
  if [[ ! -x "$toolchain/bin/go" ]]; then
    arch="$(dpkg --print-architecture)"
    echo "build-kube: no Go on PATH; fetching go$go_version from the Go module proxy" >&2
    rm -rf "$toolchain.partial" && mkdir -p "$toolchain.partial"
    curl -fsSL -o "$toolchain.partial/go.zip" \
      "https://proxy.golang.org/golang.org/toolchain/@v/v0.0.1-go$go_version.linux-$arch.zip"
    (cd "$toolchain.partial" && python3 -m zipfile -e go.zip . && rm go.zip)
    # The zip's top folder is golang.org/toolchain@v0.0.1-go<version>.linux-<arch>.
    mv "$toolchain.partial"/golang.org/toolchain@*/ "$toolchain"
    chmod +x "$toolchain"/bin/* "$toolchain"/pkg/tool/*/*
    rm -rf "$toolchain.partial"
  fi
  PATH="$toolchain/bin:$PATH"
fi

work="$(mktemp -d "${TMPDIR:-/tmp}/certswap-kube-build.XXXXXX")"
# The module cache (~1 GB) and build cache (~3 GB) are only needed once.
cleanup() { chmod -R u+w "$work" 2>/dev/null || true; rm -rf "$work"; }
trap cleanup EXIT
export GOPATH="$work/gopath" GOMODCACHE="$work/gopath/pkg/mod" GOCACHE="$work/gocache"
export GOFLAGS=-mod=mod GOTOOLCHAIN=local CGO_ENABLED=0
mkdir -p "$work/etcd" "$work/kube" "$cache.partial"
started=$SECONDS

# etcd: a main that calls etcdmain, as etcd's own server binary does.
cd "$work/etcd"
cat > main.go <<'GO'
package main

import (
	"os"

	"go.etcd.io/etcd/server/v3/etcdmain"
)

func main() { etcdmain.Main(os.Args) }
GO
go mod init certswap.test/etcd >/dev/null 2>&1
go get "go.etcd.io/etcd/server/v3@v$etcd_version" >/dev/null 2>&1 || go get "go.etcd.io/etcd/server/v3@v$etcd_version"
go mod tidy >/dev/null 2>&1 || go mod tidy
go build -trimpath -o "$cache.partial/etcd" .
echo "build-kube: etcd $etcd_version built in $((SECONDS - started)) s" >&2

# kube-apiserver: k8s.io/kubernetes replaces its staging modules with local
# paths, so a consumer module must replace each with its published version.
cd "$work/kube"
go mod init certswap.test/kube >/dev/null 2>&1
cat > tools.go <<'GO'
//go:build tools

package tools

import _ "k8s.io/kubernetes/cmd/kube-apiserver"
GO
go mod download -json "k8s.io/kubernetes@v$kube_version" >"$work/kubernetes.json"
kube_gomod="$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["GoMod"])' "$work/kubernetes.json")"
staging="$(sed -n 's#^[[:space:]]*\(k8s.io/[a-z0-9-]*\) => ./staging/src/.*#\1#p' "$kube_gomod" | sort -u)"
[[ -n "$staging" ]] || { echo "build-kube: found no staging replace lines in k8s.io/kubernetes@v$kube_version's go.mod" >&2; exit 1; }
{
  echo "require k8s.io/kubernetes v$kube_version"
  echo "replace ("
  for m in $staging; do echo "	$m => $m v0.${kube_version#1.}"; done
  echo ")"
} >>go.mod
go mod tidy >/dev/null 2>&1 || go mod tidy
ldflags="-X k8s.io/component-base/version.gitVersion=v$kube_version"
ldflags+=" -X k8s.io/component-base/version.gitMajor=${kube_version%%.*}"
minor="${kube_version#*.}"
ldflags+=" -X k8s.io/component-base/version.gitMinor=${minor%%.*}"
go build -trimpath -ldflags "$ldflags" -o "$cache.partial/kube-apiserver" k8s.io/kubernetes/cmd/kube-apiserver
echo "build-kube: kube-apiserver $kube_version built in $((SECONDS - started)) s (both)" >&2

rm -rf "$cache"
mv "$cache.partial" "$cache"
echo "$cache"
