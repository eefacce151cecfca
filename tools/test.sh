#!/usr/bin/env bash
# The whole test suite from nothing: installs what is missing, builds, starts a
# throwaway PostgreSQL, runs every test with ctest, stops the cluster.
#   tools/test.sh [extra ctest arguments]
# Environment: BUILD_DIR (default build), TASKER_WERROR (default ON in CI).
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"
BUILD_DIR="${BUILD_DIR:-$ROOT/build}"
JOBS="${JOBS:-2}"

"$ROOT/tools/install-deps.sh"

WERROR=OFF
if [ "${CI:-}" = "true" ] || [ "${TASKER_WERROR:-}" = "ON" ]; then WERROR=ON; fi
cmake -S "$ROOT" -B "$BUILD_DIR" -G Ninja -DTASKER_WERROR=$WERROR >/dev/null
cmake --build "$BUILD_DIR" -j "$JOBS"

export TASKER_PG_DIR="${TASKER_PG_DIR:-$ROOT/var/pg-test}"
trap '"$ROOT/tools/pg.sh" stop || true' EXIT
TASKER_DATABASE_URL="$("$ROOT/tools/pg.sh" start)"
export TASKER_DATABASE_URL
echo "test.sh: PostgreSQL at $TASKER_DATABASE_URL"

cd "$BUILD_DIR"
ctest --output-on-failure -j "$JOBS" "$@"
