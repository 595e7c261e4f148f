#!/bin/bash
# Idempotent set-up for a fresh Debian 12 machine (run as root): installs only the Debian packages
# that are missing, then builds zabkeeper into build/.
#   ./setup.sh            install + build
#   ./setup.sh --no-build install only
set -euo pipefail
cd "$(dirname "$0")"

packages=(build-essential cmake pkg-config libevent-dev libmsgpack-dev liblmdb-dev zlib1g-dev libsystemd-dev
          # TLS (OpenSSL through libevent) and client SASL (Cyrus SASL, its DIGEST-MD5 plugin)
          libssl-dev openssl libsasl2-dev libsasl2-modules python3-pure-sasl
          libcriterion-dev libzookeeper-mt-dev zookeeper-bin zookeeper python3-kazoo
          python3-pytest default-jre-headless iproute2 procps
          # tests/compat/kazoo-suite: kazoo's own test suite needs these two
          python3-mock python3-objgraph
          # tests/security: javac for its Java client (ZooKeeper's client jars come with zookeeper)
          default-jdk-headless
          # tests/integration/test_metrics.py: promtool and a real Prometheus server (issue 15)
          prometheus
          redis-server libhiredis-dev postgresql libpq-dev  # bench/lock-compare (a benchmark, not in CI)
          # the Debian package and its test (deploy/make-deb, tests/package)
          debhelper lintian systemd strace
          # libFuzzer targets (tests/fuzz, docs/fuzzing.md)
          clang libclang-rt-14-dev)

missing=()
for p in "${packages[@]}"; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if ((${#missing[@]})); then
    echo "setup: installing ${missing[*]}"
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -qq
    apt-get install -y -qq --no-install-recommends "${missing[@]}"
else
    echo "setup: all packages present"
fi

[[ ${1:-} == --no-build ]] && exit 0
cmake -S . -B build -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
cmake --build build -j"$(nproc)"
echo "setup: built into build/"
