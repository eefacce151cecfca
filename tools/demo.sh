#!/usr/bin/env bash
# The demo from nothing: installs what is missing, builds, starts a throwaway
# PostgreSQL (var/pg), migrates, registers the example templates, starts a node
# with an embedded worker, submits tasks, shows their progress and final states.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"
BUILD_DIR="${BUILD_DIR:-$ROOT/build}"

"$ROOT/tools/install-deps.sh"
cmake -S "$ROOT" -B "$BUILD_DIR" -G Ninja >/dev/null
cmake --build "$BUILD_DIR" -j "${JOBS:-2}" --target tasker-node taskerctl

NODE="$BUILD_DIR/tools/tasker-node/tasker-node"
CTL="$BUILD_DIR/tools/taskerctl/taskerctl"

TASKER_DATABASE_URL="$("$ROOT/tools/pg.sh" start)"
export TASKER_DATABASE_URL TASKER_ENV=development
echo "== PostgreSQL: $TASKER_DATABASE_URL"

echo "== migrate"
"$NODE" migrate

echo "== register the example templates"
"$CTL" template register examples/templates/linear.toml examples/templates/diamond.toml
"$CTL" template list

LOG="$ROOT/var/demo-node.log"
echo "== start a node with a worker for namespace 'examples' (log: $LOG)"
"$NODE" run --with-worker examples >"$LOG" 2>&1 &
NODE_PID=$!
cleanup() {
  kill -TERM "$NODE_PID" 2>/dev/null || true
  wait "$NODE_PID" 2>/dev/null || true
}
trap cleanup EXIT

echo "== submit tasks"
ids=()
for i in 1 2 3; do
  ids+=("$("$CTL" task submit examples/linear_pipeline --context "{\"order\": $i, \"run\": \"$(date +%s%N)\"}")")
  ids+=("$("$CTL" task submit examples/diamond_workflow --context "{\"batch\": $i, \"run\": \"$(date +%s%N)\"}")")
done
printf '   %s\n' "${ids[@]}"

echo "== progress"
for _ in $(seq 1 60); do
  open=0
  for id in "${ids[@]}"; do
    state="$("$CTL" task status "$id" --json | python3 -c 'import json,sys; print(json.load(sys.stdin)["state"])')"
    case "$state" in complete|error|cancelled|resolved_manually) ;; *) open=$((open + 1)) ;; esac
  done
  echo "   $(( ${#ids[@]} - open ))/${#ids[@]} tasks finished"
  [ "$open" -eq 0 ] && break
  sleep 1
done

echo "== final states"
"$CTL" task list --limit 20
for id in "${ids[0]}" "${ids[1]}"; do "$CTL" task status "$id"; done
"$CTL" queue stats
