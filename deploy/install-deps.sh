#!/usr/bin/env bash
# Everything a fresh Debian 12 machine needs to build certswap and run its
# tests: Debian packages, then the Apache Kafka jars from Maven Central (cached
# outside the repository). Idempotent; a second run touches no network.
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"

packages=(
  build-essential cmake ninja-build pkg-config git
  kcat python3-confluent-kafka
  librdkafka-dev libssl-dev libcurl4-openssl-dev nlohmann-json3-dev catch2
  libcli11-dev libspdlog-dev libfmt-dev libcpp-httplib-dev libyaml-cpp-dev
  clang-format openssl ca-certificates curl python3 procps util-linux
  openjdk-17-jdk-headless maven python3-venv python3-yaml
  clang-16 libclang-rt-16-dev systemd
  dpkg-dev file help2man lintian
)

missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep "install ok installed" >/dev/null || missing+=("$p")
done
if ((${#missing[@]})); then
  sudo=""
  if [[ $(id -u) -ne 0 ]]; then
    command -v sudo >/dev/null || { echo "install-deps: need root (or sudo) to install: ${missing[*]}" >&2; exit 1; }
    sudo="sudo"
  fi
  echo "install-deps: installing ${missing[*]}" >&2
  $sudo apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends "${missing[@]}" >&2
fi

"$here/../tests/testbed/kafka/fetch-kafka.sh" > /dev/null
echo "install-deps: all dependencies present" >&2
