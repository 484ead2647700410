#!/usr/bin/env bash
# Fails on any clang-format difference or clang-tidy finding in pyexec's own C++ sources.
# Usage: scripts/lint.sh [BUILD_DIR]   (a configured build directory with compile_commands.json)
set -euo pipefail
cd "$(dirname "$0")/.."
build_dir=${1:-build}

mapfile -t sources < <(git ls-files -co --exclude-standard -- 'src/*.cc' 'src/*.h' 'tests/*.cc' \
  'tests/*.h' 'bench/*.cc' 'bench/*.h')
echo "lint: clang-format on ${#sources[@]} files"
clang-format --dry-run -Werror "${sources[@]}"

mapfile -t units < <(printf '%s\n' "${sources[@]}" | grep '\.cc$')
echo "lint: clang-tidy on ${#units[@]} files"
printf '%s\n' "${units[@]}" |
  xargs -P "$(nproc)" -n 4 clang-tidy -p "$build_dir" --quiet 2>&1 |
  grep -v -E '^[0-9]+ warnings? (and [0-9]+ errors? )?generated\.$|^Suppressed [0-9]+ warnings|^Use -header-filter' |
  tee /tmp/pyexec-clang-tidy.log || true
if grep -q -E 'error:|warning:' /tmp/pyexec-clang-tidy.log; then
  echo "lint: clang-tidy findings above" >&2
  exit 1
fi
echo "lint: clean"
