#!/usr/bin/env bash
# The test command: installs what is missing (deploy/install-deps.sh), checks formatting, builds
# with warnings as errors, starts a private PostgreSQL, runs every CTest label (unit, pg, e2e),
# runs each libFuzzer target for a bounded time, then the unit tests again under ASan+UBSan.
# Extra arguments go to ctest (e.g. -L unit).
#   EF45GW_SKIP_ASAN=1   skip the sanitizer pass (quick local runs)
#   EF45GW_SKIP_FUZZ=1   skip the bounded libFuzzer runs (EF45GW_FUZZ_SECONDS per target, 20)
#   BUILD_DIR=...        build directory (default build/)
set -euo pipefail

root=$(cd "$(dirname "$0")/.." && pwd)
build=${BUILD_DIR:-$root/build}
jobs=$(nproc)

"$root/deploy/install-deps.sh"

echo "== format check"
cd "$root"
unformatted=$(git ls-files '*.cpp' '*.hpp' | while read -r f; do
  clang-format --dry-run --Werror "$f" >/dev/null 2>&1 || echo "$f"
done)
if [ -n "$unformatted" ]; then
  echo "not clang-format clean:"; echo "$unformatted"; exit 1
fi

echo "== build ($build)"
cmake -S "$root" -B "$build" -G Ninja -DEF45GW_WERROR=ON >/dev/null
cmake --build "$build" -j "$jobs"

pgdir=$(mktemp -d /tmp/ef45gw-test-pg.XXXXXX)
cleanup() {
  "$root/tests/support/pg.sh" stop "$pgdir" || true
  rm -rf "$pgdir"
}
trap cleanup EXIT
"$root/tests/support/pg.sh" start "$pgdir"
# shellcheck disable=SC1091
source "$pgdir/env"

echo "== tests"
ctest --test-dir "$build" --output-on-failure -j "$jobs" "$@"

if [ "${EF45GW_SKIP_FUZZ:-0}" != 1 ]; then
  echo "== fuzz targets (clang, ${EF45GW_FUZZ_SECONDS:-20} s each)"
  "$root/tests/fuzz/run.sh" "$build-fuzz" "${EF45GW_FUZZ_SECONDS:-20}"
fi

if [ "${EF45GW_SKIP_ASAN:-0}" != 1 ]; then
  echo "== unit tests under ASan+UBSan"
  asan="$build-asan"
  cmake -S "$root" -B "$asan" -G Ninja -DEF45GW_WERROR=ON -DEF45GW_SANITIZE=ON \
    -DEF45GW_BUILD_BENCH=OFF -DCMAKE_BUILD_TYPE=Debug >/dev/null
  cmake --build "$asan" -j "$jobs"
  ASAN_OPTIONS=detect_leaks=1 UBSAN_OPTIONS=print_stacktrace=1 \
    ctest --test-dir "$asan" --output-on-failure -j "$jobs" -L unit
fi
