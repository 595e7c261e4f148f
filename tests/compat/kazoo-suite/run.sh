#!/bin/bash
# kazoo's own test suite (Debian's python3-kazoo ships it as kazoo.tests) against a zabkeeper
# ensemble that kazoo's harness starts from its own configs (3 members, tickTime 2000, the
# SASLAuthenticationProvider, a JAAS file, readonlymode.enabled, a super digest, reconfig on):
# the `java` on PATH is our stand-in (./java). Exit 77 (skipped) when a prerequisite is missing.
#   run.sh [plain|digest] : digest sets ZOOKEEPER_JAAS_AUTH=digest (a JAAS Server section with
#                           DigestLoginModule users, so kazoo's SASL tests run)
# Environment: ZABKEEPER_BIN, KAZOO_SUITE_PORT (kazoo's ZOOKEEPER_PORT_OFFSET: members use
# PORT..PORT+23), KAZOO_SUITE_LOGS (the members' logs are kept there).
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
skip() { echo "SKIPPED: $*"; exit 77; }
py=/usr/bin/python3
[[ -x ${ZABKEEPER_BIN:-} ]] || skip "zabkeeper binary not built"
tests=$($py -c 'import kazoo.tests, os; print(os.path.dirname(kazoo.tests.__file__))' 2>/dev/null) ||
    skip "python3-kazoo with its tests is not installed"
$py -c 'import pytest, mock, objgraph' 2>/dev/null || skip "python3-pytest, python3-mock or python3-objgraph missing"

logs=${KAZOO_SUITE_LOGS:?}
rm -rf "$logs" && mkdir -p "$logs"
export KAZOO_SUITE_LOGS=$logs
stop_members() { # whatever the harness left running (a timeout, a crash)
    local f
    for f in "$logs"/*.pid; do
        [[ -e $f ]] && kill -KILL "$(cat "$f")" 2>/dev/null || true
    done
}
trap stop_members EXIT

export PATH=$here:$PATH
export ZOOKEEPER_VERSION=3.8.0 ZOOKEEPER_CLASSPATH=/usr/share/java/zookeeper.jar
export ZOOKEEPER_PORT_OFFSET=${KAZOO_SUITE_PORT:?}
[[ ${1:-plain} == digest ]] && export ZOOKEEPER_JAAS_AUTH=digest
cd "$logs" # kazoo's harness writes nothing here, pytest's cache is off
# Skipped by kazoo itself here: test_build (Travis only) and the Kerberos SASL tests (no KDC).
$py -m pytest -p no:cacheprovider -q -rfEs "$tests"
