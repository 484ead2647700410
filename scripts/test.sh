#!/usr/bin/env bash
# Installs what is needed, builds pyexec twice (RelWithDebInfo, then ASan+UBSan), checks
# formatting and clang-tidy, and runs every test (labels: unit, engine) in both builds.
# Sandbox/engine tests never skip for a missing kernel feature: they fail.
set -euo pipefail
cd "$(dirname "$0")/.."
jobs=$(nproc)

scripts/install-deps.sh

cmake -S . -B build -DCMAKE_BUILD_TYPE=RelWithDebInfo -DPYEXEC_BUILD_TESTS=ON
cmake --build build -j"$jobs"
scripts/lint.sh build
(cd build && ctest --output-on-failure --timeout 300)

cmake -S . -B build-asan -DCMAKE_BUILD_TYPE=Debug -DPYEXEC_SANITIZE=ON -DPYEXEC_BUILD_TESTS=ON
cmake --build build-asan -j"$jobs"
export ASAN_OPTIONS=detect_leaks=1:abort_on_error=0:allocator_may_return_null=1
export UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1
(cd build-asan && ctest --output-on-failure --timeout 600)
