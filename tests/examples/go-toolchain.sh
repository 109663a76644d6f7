# Sourced by the Go builds of the examples (build-go.sh, build-go-static.sh):
# sets $go to a Go toolchain and keeps module downloads in certswap's cache.
# The toolchain: go on PATH, /usr/local/go, or the one
# tests/testbed/kubernetes/build-kube.sh fetched from the Go module proxy (run
# first by tests/run-all.sh) on a machine that has no Go of its own.
go="$(command -v go || true)"
[ -n "$go" ] || go=/usr/local/go/bin/go
[ -x "$go" ] || go="${CERTSWAP_CACHE_DIR:-$HOME/.cache/certswap}/go-1.26.8/bin/go"
[ -x "$go" ] || { echo "$(basename "$0"): no Go toolchain (go on PATH, /usr/local/go/bin/go or the one tests/testbed/kubernetes/build-kube.sh fetches)" >&2; exit 1; }
export GOMODCACHE="${GOMODCACHE:-${CERTSWAP_CACHE_DIR:-$HOME/.cache/certswap}/go-mod}"
export GOTOOLCHAIN=local GOFLAGS="${GOFLAGS:--mod=readonly}"
