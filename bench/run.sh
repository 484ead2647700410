#!/usr/bin/env bash
# Builds pyexec in Release in its own directory (build-bench/) and runs the engine latency
# benchmark, passing every argument through: bench/run.sh --runs 500 --json
set -euo pipefail

cd "$(dirname "$0")/.."

# Debian's Python only: the first python3 on PATH may be another build, without numpy.
export PATH="/usr/bin:/bin:${PATH}"

if [ -x scripts/install-deps.sh ] && [ "$(id -u)" -eq 0 ]; then
  scripts/install-deps.sh >&2
fi

# The benchmark is part of the test build (bench/ is added with tests/). Release, but at -O2:
# at -O3 GCC 12 reports a false -Wrestrict on std::string concatenation (GCC bug 105329),
# which -Werror turns into a build failure.
cmake -S . -B build-bench -DCMAKE_BUILD_TYPE=Release -DCMAKE_CXX_FLAGS_RELEASE="-O2 -DNDEBUG" \
  -DPYEXEC_BUILD_TESTS=ON -DPYEXEC_PYTHON_CONFIG=/usr/bin/python3-config >&2
cmake --build build-bench --target pyexec_engine_bench --parallel "$(nproc)" >&2

exec build-bench/pyexec_engine_bench "$@"
