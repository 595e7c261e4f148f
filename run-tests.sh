#!/bin/bash
# Install what is missing, build, and run every test (unit, simulator, integration, compatibility
# against Apache ZooKeeper and zabkeeper). A ctest summary line ends the output.
#   ./run-tests.sh            the whole suite (release build)
#   ./run-tests.sh --asan     the whole suite in an AddressSanitizer+UBSan build (build-asan/)
set -euo pipefail
cd "$(dirname "$0")"
./setup.sh --no-build

build=build
flags=(-DCMAKE_BUILD_TYPE=RelWithDebInfo)
if [[ ${1:-} == --asan ]]; then
    build=build-asan
    flags=(-DCMAKE_BUILD_TYPE=Debug -DZK_SANITIZE=ON)
fi
cmake -S . -B "$build" "${flags[@]}" >/dev/null
cmake --build "$build" -j"$(nproc)"
cd "$build"
ctest --output-on-failure -j2 --timeout 600
