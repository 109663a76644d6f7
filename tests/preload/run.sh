#!/usr/bin/env bash
# Builds a certswap output directory (the ..data layout of
# agent/src/atomic_store.cpp) with four generations, then runs preload_test.
# usage: run.sh <preload_test> <libcertswap-preload.so> <case> <reload|reload-ca|none>
# Generations: 1 = leaf A + CA 1, 2 = leaf B + CA 2, 3 = leaf C with A's key
# (broken), 4 = leaf C + CA 2. Leaf X is a certificate from elsewhere.
set -euo pipefail
bin="$1" lib="$2" case="$3" mode="$4"
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
pki="$work/pki" out="$work/out"
mkdir -p "$pki" "$out"
openssl_quiet() { openssl "$@" 2>/dev/null; }
for ca in ca1 ca2; do
  openssl_quiet req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -days 2 \
    -subj "/CN=preload-test-$ca" -keyout "$pki/$ca.key" -out "$pki/$ca.pem"
done
for leaf in A B C X; do
  openssl_quiet req -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes \
    -subj "/OU=leaf-$leaf/CN=app" -keyout "$pki/leaf$leaf.key" -out "$pki/leaf$leaf.csr"
  openssl_quiet x509 -req -in "$pki/leaf$leaf.csr" -CA "$pki/ca1.pem" -CAkey "$pki/ca1.key" \
    -CAcreateserial -days 2 -out "$pki/leaf$leaf.pem"
done
make_gen() { # name leaf key ca
  mkdir -p "$out/$1"
  cp "$pki/$2.pem" "$out/$1/service.cert"
  cp "$pki/$3.key" "$out/$1/service.key"
  cp "$pki/$4.pem" "$out/$1/ca.pem"
  chmod 600 "$out/$1/service.key"
}
make_gen ..2026_01_01_00_00_01.000000000 leafA leafA ca1
make_gen ..2026_01_01_00_00_02.000000000 leafB leafB ca2
make_gen ..2026_01_01_00_00_03.000000000 leafC leafA ca2
make_gen ..2026_01_01_00_00_04.000000000 leafC leafC ca2
for f in service.cert service.key ca.pem; do ln -s "..data/$f" "$out/$f"; done

env=(CERTSWAP_RELOAD_DIR="$out" CERTSWAP_RELOAD_LOG=stderr)
[[ "$mode" == none ]] || env+=(LD_PRELOAD="$lib")
[[ "$mode" == reload-ca ]] && env+=(CERTSWAP_RELOAD_CA=1)
[[ "$mode" == none ]] || arg=reload
rc=0
env "${env[@]}" "$bin" "$case" "$out" "$pki" "${arg:-none}" 2> "$work/stderr" || rc=$?
cat "$work/stderr" >&2
((rc == 0)) || exit "$rc"
if [[ "$case" == refused-generation && "$mode" != none ]]; then
  # Five connections while the broken generation is live: it is read and refused once.
  refusals=$(grep -c "refused generation ..2026_01_01_00_00_03" "$work/stderr" || true)
  echo "refusal log lines: $refusals (expected 1)"
  [[ "$refusals" == 1 ]] || exit 1
fi
if grep -q "BEGIN\|PRIVATE" "$work/stderr"; then
  echo "key or certificate material in the log" >&2
  exit 1
fi
