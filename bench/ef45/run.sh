#!/usr/bin/env bash
# Builds and runs the lib/ef45 benchmarks in BUILD_DIR (default build-bench-ef45).
# usage: bench/ef45/run.sh [BUILD_DIR] [SECONDS_PER_PHASE] [ROUNDS]
set -euo pipefail
src=$(cd "$(dirname "$0")/../.." && pwd)
build=${1:-$src/build-bench-ef45}
seconds=${2:-3}
rounds=${3:-3}
cmake -S "$src" -B "$build" -G Ninja >/dev/null
cmake --build "$build" -j2 --target ef45_bench_parse ef45_bench_client
echo "== parse throughput"
"$build/bench/ef45/ef45_bench_parse" "$seconds"
echo
echo "== door-status through the client vs wrk"
"$build/bench/ef45/ef45_bench_client" "$seconds" "$rounds"
