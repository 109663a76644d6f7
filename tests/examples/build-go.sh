#!/usr/bin/env bash
# Builds the Go example (examples/go-franz) into OUT; franz-go comes from the Go
# module proxy, pinned by go.sum, and its downloads stay in the certswap cache.
#   build-go.sh OUT      build the producer
#   build-go.sh --test   run certreload.go's unit test (go test)
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
out="$1"
source "$here/go-toolchain.sh"
[ "$out" = --test ] || mkdir -p "$(dirname "$out")"
cd "$here/../../examples/go-franz"
if [ "$out" = --test ]; then
  exec "$go" test -p 1 -count=1 -v .
fi
exec "$go" build -p 1 -trimpath -o "$out" .
