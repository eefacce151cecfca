#!/usr/bin/env bash
# The unit and actor tests under sanitizers (the multi-process `integration`
# and `fault` suites are left out).
#   tools/sanitize.sh [address|thread|all] [extra ctest arguments]
#     address  build-asan: AddressSanitizer + LeakSanitizer + UBSan; any
#              UBSan finding aborts the test (-fno-sanitize-recover=undefined)
#     thread   build-tsan: ThreadSanitizer, against a CAF built with it
#     all      both, one after the other (the default)
# Environment: JOBS (default 2), TASKER_WERROR (default ON), TASKER_PG_DIR
# (default <repo>/var/pg-san), TASKER_CAF_TSAN_DIR (default <repo>/var/caf-tsan).
#
# ThreadSanitizer only sees synchronisation in code it instrumented. CAF hands
# messages between threads through lock-free queues inside libcaf_core.so, so
# against Debian's uninstrumented library every message an actor receives is
# reported as a race. The thread mode therefore builds CAF's core and I/O
# libraries (the installed version, from its Debian source package) with
# -fsanitize=thread once, keeps them in TASKER_CAF_TSAN_DIR, and runs the
# tests with them first on LD_LIBRARY_PATH; same version, same build options,
# same headers, so they are drop-in replacements.
# Suppressions for third-party findings live in tools/sanitizers/.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"
MODE="${1:-all}"
if [ $# -gt 0 ]; then shift; fi
case "$MODE" in
  address|thread|all) ;;
  *) echo "usage: tools/sanitize.sh [address|thread|all] [extra ctest arguments]" >&2; exit 2 ;;
esac
JOBS="${JOBS:-2}"
WERROR="${TASKER_WERROR:-ON}"
SUPP="$ROOT/tools/sanitizers"
CAF_TSAN_DIR="${TASKER_CAF_TSAN_DIR:-$ROOT/var/caf-tsan}"
# The upstream tarball of Debian's actor-framework 0.17.6-2.1 source package.
CAF_VERSION=0.17.6
CAF_ORIG_SHA256=e2bf5bd243f08bb7d8adde197cfe3e6d71314ed3378fe0692f8932f4c3b3928c

"$ROOT/tools/install-deps.sh"

log() { echo "sanitize.sh: $*"; }
# ":suppressions=<file>" when tools/sanitizers/<name> exists (a missing file
# is a fatal error for the sanitizer runtimes).
supp() { if [ -f "$SUPP/$1" ]; then echo ":suppressions=$SUPP/$1"; fi; }
stamp() { date +%s; }

# Every test binary except the multi-process suites, plus the two programs the
# config tests run.
test_targets() {
  ninja -C "$1" -t targets all | sed -n 's/^\(tasker_[a-z_]*_tests\): phony$/\1/p' \
    | grep -v -E 'integration|fault'
  echo tasker-node taskerctl
}

build() { # <dir> <sanitizers>
  local dir="$1" san="$2" t0
  t0=$(stamp)
  # -O1 -g1: sanitizer builds of the CAF-heavy sources at -O2 -g take about
  # twice as long, and line tables are all a report's stack needs.
  cmake -S "$ROOT" -B "$dir" -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo \
    -DCMAKE_CXX_FLAGS_RELWITHDEBINFO="-O1 -g1 -DNDEBUG" \
    -DTASKER_WERROR="$WERROR" -DTASKER_SANITIZE="$san" >/dev/null
  # shellcheck disable=SC2046
  cmake --build "$dir" -j "$JOBS" --target $(test_targets "$dir")
  log "$(basename "$dir"): build took $(( $(stamp) - t0 )) s"
}

run_tests() { # <dir> [ctest arguments]
  local dir="$1" t0 rc=0
  shift
  t0=$(stamp)
  # The unbuilt integration and fault binaries show up as unlabelled
  # *_NOT_BUILT placeholders, hence the name filter next to the label filter.
  (cd "$dir" && ctest --output-on-failure -j "$JOBS" -LE 'integration|fault' \
    -E '^tasker_(integration|fault_[a-z_]+)_tests_NOT_BUILT' "$@") || rc=$?
  log "$(basename "$dir"): tests took $(( $(stamp) - t0 )) s (ctest exit $rc)"
  return $rc
}

# CAF core + io with -fsanitize=thread, built once into $CAF_TSAN_DIR/lib.
caf_tsan() {
  local lib="$CAF_TSAN_DIR/lib"
  if [ -e "$lib/libcaf_core.so.$CAF_VERSION" ] && [ -e "$lib/libcaf_io.so.$CAF_VERSION" ]; then return; fi
  local installed
  installed="$(dpkg-query -W -f='${Version}' libcaf-dev)"
  case "$installed" in
    "$CAF_VERSION"-*) ;;
    *) echo "sanitize.sh: libcaf-dev is $installed, this script builds CAF $CAF_VERSION" >&2; exit 1 ;;
  esac
  local src="$CAF_TSAN_DIR/src" t0
  t0=$(stamp)
  mkdir -p "$src/lists/partial"
  local tarball="$src/actor-framework_$CAF_VERSION.orig.tar.gz"
  if [ ! -f "$tarball" ]; then
    # apt with a private deb-src list: the system's apt configuration is untouched.
    echo "deb-src [signed-by=/usr/share/keyrings/debian-archive-keyring.gpg] http://deb.debian.org/debian bookworm main" \
      >"$src/sources.list"
    local apt=(apt-get -q -o Dir::Etc::SourceList="$src/sources.list" -o Dir::Etc::SourceParts=/nonexistent
      -o Dir::State::Lists="$src/lists")
    "${apt[@]}" update >/dev/null
    # Only the upstream tarball is used; a missing Debian patch archive is not fatal.
    (cd "$src" && "${apt[@]}" source --download-only "actor-framework=$(dpkg-query -W -f='${Source:Version}' libcaf-dev)") \
      >/dev/null 2>&1 || true
  fi
  echo "$CAF_ORIG_SHA256  $tarball" | sha256sum -c --quiet - \
    || { echo "sanitize.sh: could not fetch $tarball" >&2; exit 1; }
  rm -rf "$src/actor-framework-$CAF_VERSION" "$src/build"
  tar -xzf "$tarball" -C "$src"
  # Upstream 0.17.6 misses an #include <limits> that GCC 12 needs; the
  # installed header has it (a Debian patch).
  sed -i '0,/#include <cstddef>/s//#include <cstddef>\n#include <limits>/' \
    "$src/actor-framework-$CAF_VERSION/libcaf_io/caf/io/network/receive_buffer.hpp"
  # The options Debian builds with (caf/detail/build_config.hpp): quiet log
  # level, memory management and exceptions on, no runtime checks.
  cmake -S "$src/actor-framework-$CAF_VERSION" -B "$src/build" -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo \
    -DCMAKE_CXX_FLAGS="-fsanitize=thread -fno-omit-frame-pointer" -DCMAKE_SHARED_LINKER_FLAGS=-fsanitize=thread \
    -DCAF_LOG_LEVEL=QUIET -DCAF_NO_EXAMPLES=yes -DCAF_NO_UNIT_TESTS=yes -DCAF_NO_OPENCL=yes \
    -DCAF_NO_OPENSSL=yes -DCAF_NO_TOOLS=yes -DCAF_NO_PYTHON=yes -DCAF_NO_COMPILER_CHECK=yes >/dev/null
  if ! diff <(grep '^#define' "$src/build/libcaf_core/caf/detail/build_config.hpp") \
            <(grep '^#define' /usr/include/caf/detail/build_config.hpp) >/dev/null; then
    echo "sanitize.sh: CAF build options differ from the installed CAF" >&2; exit 1
  fi
  cmake --build "$src/build" -j "$JOBS" --target libcaf_core_shared libcaf_io_shared
  mkdir -p "$lib"
  cp -a "$src/build/lib/"libcaf_core.so* "$src/build/lib/"libcaf_io.so* "$lib/"
  log "CAF $CAF_VERSION with ThreadSanitizer: build took $(( $(stamp) - t0 )) s"
}

export TASKER_PG_DIR="${TASKER_PG_DIR:-$ROOT/var/pg-san}"
trap '"$ROOT/tools/pg.sh" stop || true' EXIT
TASKER_DATABASE_URL="$("$ROOT/tools/pg.sh" start)"
export TASKER_DATABASE_URL
log "PostgreSQL at $TASKER_DATABASE_URL"

status=0
if [ "$MODE" = address ] || [ "$MODE" = all ]; then
  build "$ROOT/build-asan" address,undefined
  ASAN_OPTIONS="halt_on_error=1:detect_leaks=1:check_initialization_order=1:strict_init_order=1" \
  LSAN_OPTIONS="print_suppressions=0$(supp lsan.supp)" \
  UBSAN_OPTIONS="halt_on_error=1:print_stacktrace=1$(supp ubsan.supp)" \
    run_tests "$ROOT/build-asan" "$@" || status=1
fi
if [ "$MODE" = thread ] || [ "$MODE" = all ]; then
  caf_tsan
  build "$ROOT/build-tsan" thread
  # No halt_on_error: a test reports every race it hits and still fails (exit 66).
  TSAN_OPTIONS="second_deadlock_stack=1:print_suppressions=0$(supp tsan.supp)" \
  LD_LIBRARY_PATH="$CAF_TSAN_DIR/lib${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}" \
    run_tests "$ROOT/build-tsan" "$@" || status=1
fi
exit $status
