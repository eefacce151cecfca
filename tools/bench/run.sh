#!/usr/bin/env bash
# Builds tasker-node and tasker-bench (Release) and runs the benchmark.
#   tools/bench/run.sh [tasker-bench flags]      e.g. --quick, --scenarios burndown,latency
# Build directory: $TASKER_BENCH_BUILD_DIR (default <repo>/build-bench).
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
BUILD="${TASKER_BENCH_BUILD_DIR:-$ROOT/build-bench}"
JOBS="${TASKER_BENCH_JOBS:-2}"

cmake -S "$ROOT" -B "$BUILD" -G Ninja -DCMAKE_BUILD_TYPE=Release >/dev/null
cmake --build "$BUILD" -j"$JOBS" --target tasker-node tasker-bench
echo "load average: $(cut -d' ' -f1-3 /proc/loadavg) on $(nproc) cores"
exec "$BUILD/tools/bench/tasker-bench" "$@"
