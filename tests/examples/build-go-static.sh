#!/usr/bin/env bash
# Builds tests/examples/go-static-producer (cgo, standard library only, so it
# builds offline) into OUTDIR in confluent-kafka-go's two layouts, and checks
# each has the layout it claims:
#   go-static-producer       librdkafka, libssl and libcrypto from Debian's .a
#                            archives linked into the executable (the module's
#                            default build); non-PIE, as Go builds by default
#   go-static-producer-pie   the same, -buildmode=pie
#   go-dynamic-producer      -tags dynamic: the shared librdkafka.so.1
# confluent-kafka-go itself is not used: the Go module proxy here flags its
# module "not an approved release".
#   build-go-static.sh OUTDIR
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
out="$1"
source "$here/go-toolchain.sh"
for a in librdkafka.a libssl.a libcrypto.a; do
  [ -f "/usr/lib/x86_64-linux-gnu/$a" ] || { echo "build-go-static.sh: /usr/lib/x86_64-linux-gnu/$a missing: install librdkafka-dev and libssl-dev" >&2; exit 1; }
done
export CGO_ENABLED=1
mkdir -p "$out"
cd "$here/go-static-producer"
"$go" build -p 1 -trimpath -o "$out/go-static-producer" .
"$go" build -p 1 -trimpath -buildmode=pie -o "$out/go-static-producer-pie" .
"$go" build -p 1 -trimpath -tags dynamic -o "$out/go-dynamic-producer" .

fail() { echo "build-go-static.sh: $*" >&2; exit 1; }
# Whole outputs in variables: grep -q on a pipe would end it early, and
# pipefail would then see nm's SIGPIPE.
needed() { readelf -dW "$1" | sed -n 's/.*(NEEDED).*\[\(.*\)\]/\1/p'; }
for exe in go-static-producer go-static-producer-pie; do
  f="$out/$exe"
  symtab="$(nm "$f")"
  dynsym="$(nm -D "$f")"
  libs="$(needed "$f")"
  [ "$(grep -cE ' T (SSL_new|rd_kafka_version|rd_kafka_transport_ssl_connect)$' <<<"$symtab")" = 3 ] ||
    fail "$exe: SSL_new, rd_kafka_version or rd_kafka_transport_ssl_connect not defined once in its .symtab"
  if grep -qE ' U SSL_new' <<<"$dynsym"; then fail "$exe imports SSL_new"; fi
  if grep -qE '^lib(ssl|crypto|rdkafka)\.' <<<"$libs"; then fail "$exe needs" $libs; fi
done
grep -q 'EXEC ' <<<"$(readelf -hW "$out/go-static-producer")" || fail "go-static-producer is not a non-PIE executable"
grep -q 'DYN ' <<<"$(readelf -hW "$out/go-static-producer-pie")" || fail "go-static-producer-pie is not PIE"
grep -qx 'librdkafka.so.1' <<<"$(needed "$out/go-dynamic-producer")" || fail "go-dynamic-producer does not need librdkafka.so.1"
if grep -qE ' T SSL_new$' <<<"$(nm "$out/go-dynamic-producer" 2>&1)"; then fail "go-dynamic-producer has its own SSL_new"; fi
