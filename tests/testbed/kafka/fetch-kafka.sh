#!/usr/bin/env bash
# Copies the Kafka broker jars and their dependencies from Maven Central into a
# cache outside the repository; a second run finds them and does nothing.
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
version="$(sed -n 's:.*<kafka.version>\(.*\)</kafka.version>.*:\1:p' "$here/pom.xml")"
libs="${CERTSWAP_CACHE:-$HOME/.cache/certswap}/kafka-$version/libs"
if [[ -f "$libs/.complete" ]]; then
  echo "$libs"
  exit 0
fi
mkdir -p "$libs"
echo "fetching Apache Kafka $version jars from Maven Central into $libs" >&2
mvn -q -B -f "$here/pom.xml" dependency:copy-dependencies -DoutputDirectory="$libs" >&2
touch "$libs/.complete"
echo "$libs"
