#!/bin/bash
# Build zabkeeper and the integration tests into build-integ/ (or $1) and run them with ctest.
#   tests/integration/run.sh [BUILD_DIR] [extra ctest args, e.g. -R kazoo]
set -euo pipefail
root=$(cd "$(dirname "$0")/../.." && pwd)
build=${1:-$root/build-integ}
shift || true
cmake -S "$root" -B "$build" -DZK_TESTS=ON >/dev/null
make -C "$build" -j2 zabkeeper integ_ensemble >/dev/null
cd "$build"
exec ctest -R '^integ_' --output-on-failure "$@"
