#!/usr/bin/env bash
# Builds, under <work-dir>, pki/ (two CAs, leaves A, B, C signed by CA 1, and
# leaf X standing for a certificate from elsewhere) and out/, a certswap output
# directory in the ..data layout of agent/src/atomic_store.cpp with four
# generations: 1 = leaf A + CA 1, 2 = leaf B + CA 2, 3 = leaf C with A's key
# (broken), 4 = leaf C + CA 2. ..data is left unset: the programs swap it.
# usage: make-fixture.sh <work-dir>
set -euo pipefail
work="$1"
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

