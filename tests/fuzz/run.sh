#!/usr/bin/env bash
# Builds the libFuzzer targets with clang in BUILD_DIR and runs each for SECONDS, starting from
# the seed corpus in tests/fuzz/corpus/<family>. Exits non-zero on a crash, a leak, a timeout
# or memory over the limit (the failing input is left in BUILD_DIR/fuzz-artifacts/).
# usage: tests/fuzz/run.sh BUILD_DIR SECONDS
set -euo pipefail

build=${1:?usage: run.sh BUILD_DIR SECONDS}
seconds=${2:?usage: run.sh BUILD_DIR SECONDS}
here=$(cd "$(dirname "$0")" && pwd)
src=$(cd "$here/../.." && pwd)
cxx=${EF45GW_FUZZ_CXX:-clang++-14}
families=(logs match_data biometric users objects api_request)

cmake -S "$src" -B "$build" -G Ninja -DCMAKE_CXX_COMPILER="$cxx" \
  -DCMAKE_BUILD_TYPE=RelWithDebInfo -DEF45GW_FUZZ=ON -DEF45GW_BUILD_BENCH=OFF >/dev/null
cmake --build "$build" -j2 --target "${families[@]/#/fuzz_}"

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
mkdir -p "$build/fuzz-artifacts"
status=0
for family in "${families[@]}"; do
  mkdir -p "$work/$family"
  echo "== fuzz_$family for ${seconds}s"
  # New inputs go to a scratch corpus; the seeds in the source tree are only read.
  if ! "$build/tests/fuzz/fuzz_$family" "$work/$family" "$here/corpus/$family" \
      -dict="$here/ef45.dict" -max_total_time="$seconds" -max_len=65536 -rss_limit_mb=2048 \
      -malloc_limit_mb=1024 -timeout=10 -print_final_stats=1 \
      -artifact_prefix="$build/fuzz-artifacts/${family}-" 2>"$work/$family.log"; then
    tail -n 40 "$work/$family.log"
    echo "fuzz_$family FAILED (artifacts in $build/fuzz-artifacts/)"
    status=1
  else
    grep -E "stat::number_of_executed_units|stat::peak_rss_mb" "$work/$family.log" || true
  fi
done
exit $status
