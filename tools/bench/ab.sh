#!/usr/bin/env bash
# Compares builds: single-step burndowns of each, interleaved, on one cluster.
#   tools/bench/ab.sh [-r ROUNDS] [-n TASKS] [-u DATABASE_URL] LABEL=BUILD_DIR ...
# Each BUILD_DIR is a Release build directory holding tools/bench/tasker-bench
# and tools/tasker-node/tasker-node (tools/bench/run.sh makes one in
# build-bench; build another revision into its own directory to compare). The
# binaries are copied first, so a rebuild during the comparison changes
# nothing. Every round runs each build once, in the order given, so a drift
# of the machine's speed over the comparison reaches every build alike. Each
# build's bench migrates the databases it makes with its own schema.
# Defaults: 3 rounds, 20,000 tasks (200 naive ones, not compared), the
# cluster of TASKER_PG_DIR (default <repo>/var/pg-bench), started if needed
# and left running (tools/pg.sh stop with the same TASKER_PG_DIR stops it).
# Prints one line per run and the means per build: tasks/s, the machine's CPU
# per task, the node's and the worker's CPU seconds, the seconds from the
# node's start to the first task created and to the first task complete, and
# the machine's reference time before the run (nan for a bench without it).
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
ROUNDS=3
TASKS=20000
URL=""
usage() {
  sed -n '2,17p' "$0" | sed 's/^# \{0,1\}//' >&2
  exit 2
}
while getopts "r:n:u:h" opt; do
  case "$opt" in
    r) ROUNDS="$OPTARG" ;;
    n) TASKS="$OPTARG" ;;
    u) URL="$OPTARG" ;;
    *) usage ;;
  esac
done
shift $((OPTIND - 1))
[ "$#" -ge 1 ] || usage
[[ "$ROUNDS" =~ ^[1-9][0-9]*$ ]] || { echo "ab.sh: -r needs a positive number, got '$ROUNDS'" >&2; exit 2; }
[[ "$TASKS" =~ ^[1-9][0-9]*$ ]] || { echo "ab.sh: -n needs a positive number, got '$TASKS'" >&2; exit 2; }

WORK="$(mktemp -d)"
trap 'rm -rf "$WORK"' EXIT
LABELS=()
for spec in "$@"; do
  label="${spec%%=*}"
  dir="${spec#*=}"
  if [ "$label" = "$spec" ] || [ -z "$label" ] || [[ ! "$label" =~ ^[A-Za-z0-9_.-]+$ ]]; then
    echo "ab.sh: expected LABEL=BUILD_DIR (label of letters, digits, . _ -), got '$spec'" >&2
    exit 2
  fi
  for bin in tools/bench/tasker-bench tools/tasker-node/tasker-node; do
    if [ ! -x "$dir/$bin" ]; then
      echo "ab.sh: $label: $dir/$bin is missing (build it: cmake --build $dir --target tasker-node tasker-bench)" >&2
      exit 2
    fi
  done
  mkdir -p "$WORK/$label"
  cp "$dir/tools/bench/tasker-bench" "$dir/tools/tasker-node/tasker-node" "$WORK/$label/"
  LABELS+=("$label")
done

if [ -z "$URL" ]; then
  URL="$(TASKER_PG_DIR="${TASKER_PG_DIR:-$ROOT/var/pg-bench}" "$ROOT/tools/pg.sh" start)"
fi

# One line: the name given, then the means over the runs given (one run: its figures).
SUMMARY="$WORK/summary.py"
cat > "$SUMMARY" <<'PY'
import json, sys
docs = [json.load(open(f)) for f in sys.argv[2:]]
runs = [d["burndown_coordinator"] for d in docs]
mean = lambda k: sum(r.get(k, float("nan")) for r in runs) / len(runs)
# The machine's reference time before the run (a bench without it: nan).
ref = sum(d["machine"].get("reference_before", {}).get("min_ms", float("nan"))
          for d in docs) / len(docs)
print(sys.argv[1], round(mean("tasks_per_second")), "%.3f" % mean("machine_cpu_ms_per_task"),
      "%.2f" % mean("node_cpu_seconds"), "%.2f" % mean("worker_cpu_seconds"),
      "%.3f" % mean("first_task_created_seconds"), "%.3f" % mean("first_task_complete_seconds"),
      "%.0f" % ref, flush=True)
PY

echo "build round tasks/s cpu_ms_per_task node_cpu_s worker_cpu_s first_created_s first_complete_s reference_ms"
for round in $(seq 1 "$ROUNDS"); do
  for label in "${LABELS[@]}"; do
    out="$WORK/$label/round$round.json"
    if ! "$WORK/$label/tasker-bench" --database-url "$URL" --scenarios burndown \
        --tasks "$TASKS" --naive-tasks 200 --node-binary "$WORK/$label/tasker-node" \
        --out "$out" > "$WORK/$label/round$round.log" 2>&1; then
      echo "ab.sh: $label, round $round failed; its output:" >&2
      tail -n 30 "$WORK/$label/round$round.log" >&2
      exit 1
    fi
    python3 "$SUMMARY" "$label $round" "$out"
  done
done

echo "means over $ROUNDS round(s):"
for label in "${LABELS[@]}"; do
  python3 "$SUMMARY" "$label" "$WORK/$label"/round*.json
done
