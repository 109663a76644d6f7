#!/usr/bin/env bash
# Builds the Go example (examples/go-franz) into OUT; franz-go comes from the Go
# module proxy, pinned by go.sum, and its downloads stay in the certswap cache.
#   build-go.sh OUT      build the producer
#   build-go.sh --test   run certreload.go's unit test (go test)
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
out="$1"
go="$(command -v go || true)"
[ -n "$go" ] || go=/usr/local/go/bin/go
# Where build-kube.sh (run first by tests/run-all.sh) put the Go module proxy's
# toolchain on a machine that has no Go of its own.
[ -x "$go" ] || go="${CERTSWAP_CACHE_DIR:-$HOME/.cache/certswap}/go-1.26.8/bin/go"
[ -x "$go" ] || { echo "build-go.sh: no Go toolchain (go on PATH, /usr/local/go/bin/go or the one tests/testbed/kubernetes/build-kube.sh fetches)" >&2; exit 1; }
export GOMODCACHE="${GOMODCACHE:-${CERTSWAP_CACHE_DIR:-$HOME/.cache/certswap}/go-mod}"
export GOTOOLCHAIN=local GOFLAGS="${GOFLAGS:--mod=readonly}"
[ "$out" = --test ] || mkdir -p "$(dirname "$out")"
cd "$here/../../examples/go-franz"
if [ "$out" = --test ]; then
  exec "$go" test -p 1 -count=1 -v .
fi
exec "$go" build -p 1 -trimpath -o "$out" .
