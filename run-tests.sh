#!/bin/bash
# Install what is missing, build, and run every test (unit, simulator, integration, chaos,
# compatibility against Apache ZooKeeper and zabkeeper). A ctest summary line ends the output.
#   ./run-tests.sh            sanitizer pass (AddressSanitizer+UBSan build in build-asan/: unit
#                             tests, codec fuzzing and zabkeeper's client-facing tests), then
#                             coverage-guided fuzzing (tests/fuzz/run --ci: regressions, then
#                             each libFuzzer target for 25 s), then the whole suite on the
#                             release build (build/)
#   ./run-tests.sh --quick    the release suite only
set -euo pipefail
cd "$(dirname "$0")"
./setup.sh --no-build

jobs=$(nproc)
if [[ ${1:-} != --quick ]]; then
    echo "== sanitizer pass (ASan + UBSan)"
    cmake -S . -B build-asan -DCMAKE_BUILD_TYPE=Debug -DZK_SANITIZE=ON >/dev/null
    cmake --build build-asan -j"$jobs"
    # Test clients' own leaks are not ours to judge (libzookeeper keeps per-handle state).
    (cd build-asan && ASAN_OPTIONS=detect_leaks=0 ctest --output-on-failure -j2 --timeout 600 \
        -R '^(unit_|sim_test_zab_codec|sim_test_sim_bites|sim_test_zab_hostile|sim_test_sim_members|sim_member_regression_|compat_.*_zabkeeper)')

    echo "== fuzzing (libFuzzer, clang, build-fuzz/)"
    tests/fuzz/run --ci 25
fi

echo "== full suite (release build)"
cmake -S . -B build -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
cmake --build build -j"$jobs"
cd build
ctest --output-on-failure -j2 --timeout 600
