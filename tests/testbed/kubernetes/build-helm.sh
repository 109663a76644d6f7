#!/usr/bin/env bash
# Builds helm from the Go module proxy (no GitHub release or get.helm.sh
# download is reachable here) and caches the binary, nothing else, under
# ~/.cache/certswap/helm-<version>/helm. A warm cache makes this a no-op.
#
#   build-helm.sh            prints the path of the cached helm binary
#
# Measured cold on 2 cores shared with other builds (load 4-7): 412 s wall,
# 307 s of it module download and build, the rest deleting the temporary
# module and build caches; binary 94 MB. Warm: a no-op.
set -euo pipefail

helm_version=4.3.2   # helm.sh/helm/v4
cache="${CERTSWAP_CACHE_DIR:-$HOME/.cache/certswap}/helm-$helm_version"
if [[ -x "$cache/helm" ]]; then
  echo "$cache/helm"
  exit 0
fi
# Go comes with this kind of machine (/usr/local/go); where it does not, the
# same toolchain the go command would fetch for GOTOOLCHAIN comes from the Go
# module proxy, cached beside the binaries (shared with build-kube.sh).
go_version=1.26.8
[[ -x /usr/local/go/bin/go ]] && PATH="/usr/local/go/bin:$PATH"
if ! command -v go >/dev/null; then
  toolchain="${CERTSWAP_CACHE_DIR:-$HOME/.cache/certswap}/go-$go_version"
  if [[ ! -x "$toolchain/bin/go" ]]; then
    arch="$(dpkg --print-architecture)"
    echo "build-helm: no Go on PATH; fetching go$go_version from the Go module proxy" >&2
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

work="$(mktemp -d "${TMPDIR:-/tmp}/certswap-helm-build.XXXXXX")"
# The module and build caches are only needed once.
cleanup() { chmod -R u+w "$work" 2>/dev/null || true; rm -rf "$work"; }
trap cleanup EXIT
export GOPATH="$work/gopath" GOMODCACHE="$work/gopath/pkg/mod" GOCACHE="$work/gocache"
export GOFLAGS=-mod=mod GOTOOLCHAIN=local CGO_ENABLED=0
mkdir -p "$work/helm" "$cache.partial"
started=$SECONDS

# A consumer module that requires helm at the release; helm's go.mod has no
# replace lines, so the selected dependencies are helm's own.
cd "$work/helm"
go mod init certswap.test/helm >/dev/null 2>&1
cat > tools.go <<'GO'
//go:build tools

package tools

import _ "helm.sh/helm/v4/cmd/helm"
GO
go get "helm.sh/helm/v4@v$helm_version" >/dev/null 2>&1 || go get "helm.sh/helm/v4@v$helm_version"
go mod tidy >/dev/null 2>&1 || go mod tidy
# Helm's Makefile stamps the version the same way; without it `helm version`
# reports a development version.
ldflags="-X helm.sh/helm/v4/internal/version.version=v$helm_version"
go build -trimpath -ldflags "$ldflags" -o "$cache.partial/helm" helm.sh/helm/v4/cmd/helm
"$cache.partial/helm" version >&2
echo "build-helm: helm $helm_version built in $((SECONDS - started)) s" >&2

rm -rf "$cache"
mv "$cache.partial" "$cache"
echo "$cache/helm"
