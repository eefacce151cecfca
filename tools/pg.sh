#!/usr/bin/env bash
# A throwaway PostgreSQL 15 cluster for development and tests.
#   tools/pg.sh start   initialise (first time) and start on 127.0.0.1, free port
#   tools/pg.sh url     print the libpq URL of the running cluster
#   tools/pg.sh status  exit 0 when the cluster is running, 1 when it is not
#   tools/pg.sh stop    stop it
#   tools/pg.sh restart stop it and start it again on the same port
#   tools/pg.sh destroy stop it and delete its files
# Files live in $TASKER_PG_DIR (default: <repo>/var/pg, git-ignored). The
# server runs as the `postgres` user when invoked as root (initdb refuses root).
# A restarted cluster keeps its port ($DIR/port) while that port is free.
# TASKER_PG_MAX_CONNECTIONS sets the server's max_connections (default 200);
# the value is kept in $DIR/max_connections for later starts of the cluster.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
DIR="${TASKER_PG_DIR:-$ROOT/var/pg}"
BIN="${TASKER_PG_BIN:-/usr/lib/postgresql/15/bin}"
# The server runs as `postgres`: when that user cannot reach the project folder
# (a checkout under /root, say), keep the cluster under /tmp instead.
if [ "$(id -u)" -eq 0 ] && [ -z "${TASKER_PG_DIR:-}" ]; then
  mkdir -p "$DIR"
  if ! su postgres -s /bin/bash -c "test -x '$DIR'" 2>/dev/null; then
    DIR="/tmp/tasker-pg-$(echo "$ROOT" | md5sum | cut -c1-8)"
  fi
fi
DATA="$DIR/data"
SOCK="$DIR/sock"

as_owner() {
  if [ "$(id -u)" -eq 0 ]; then
    su postgres -s /bin/bash -c "$*"
  else
    bash -c "$*"
  fi
}

port_free() {
  python3 - "$1" <<'PY' 2>/dev/null
import socket, sys
# SO_REUSEADDR as the server sets it: a port in TIME_WAIT after a stop is free.
s = socket.socket(); s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
s.bind(("127.0.0.1", int(sys.argv[1]))); s.close()
PY
}

free_port() {
  python3 - <<'PY' 2>/dev/null || echo $((20000 + RANDOM % 20000))
import socket
s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1]); s.close()
PY
}

user_name() { if [ "$(id -u)" -eq 0 ]; then echo postgres; else id -un; fi; }

url() {
  local port
  port="$(cat "$DIR/port" 2>/dev/null || true)"
  [ -n "$port" ] || { echo "pg.sh: no cluster in $DIR (run: tools/pg.sh start)" >&2; exit 1; }
  echo "postgresql://$(user_name)@127.0.0.1:$port/postgres"
}

running() { [ -f "$DATA/postmaster.pid" ] && as_owner "'$BIN/pg_ctl' -D '$DATA' status" >/dev/null 2>&1; }

start() {
  mkdir -p "$DIR"
  if [ "$(id -u)" -eq 0 ]; then chown postgres:postgres "$DIR"; fi
  if [ ! -f "$DATA/PG_VERSION" ]; then
    as_owner "'$BIN/initdb' -D '$DATA' -U $(user_name) --auth=trust -E UTF8 --locale=C.UTF-8" >"$DIR/initdb.log" 2>&1 \
      || { cat "$DIR/initdb.log" >&2; exit 1; }
  fi
  as_owner "mkdir -p '$SOCK'"
  if running; then url; return; fi
  local port max_conn
  port="$(cat "$DIR/port" 2>/dev/null || true)"
  if [ -z "$port" ] || ! port_free "$port"; then port="$(free_port)"; fi
  echo "$port" >"$DIR/port"
  max_conn="${TASKER_PG_MAX_CONNECTIONS:-$(cat "$DIR/max_connections" 2>/dev/null || echo 200)}"
  case "$max_conn" in
    ''|*[!0-9]*) echo "pg.sh: TASKER_PG_MAX_CONNECTIONS must be a number, got '$max_conn'" >&2; exit 2 ;;
  esac
  echo "$max_conn" >"$DIR/max_connections"
  as_owner "'$BIN/pg_ctl' -D '$DATA' -l '$DIR/server.log' -w -t 60 start -o \"-p $port -k '$SOCK' -c listen_addresses=127.0.0.1 -c max_connections=$max_conn\"" >/dev/null \
    || { tail -n 30 "$DIR/server.log" >&2; exit 1; }
  url
}

stop() {
  if running; then as_owner "'$BIN/pg_ctl' -D '$DATA' -m fast -w stop" >/dev/null; fi
}

case "${1:-}" in
  start) start ;;
  stop) stop ;;
  restart) stop; start ;;
  url) url ;;
  status) running ;;
  destroy) stop; rm -rf "$DIR" ;;
  *) echo "usage: tools/pg.sh start|stop|restart|url|status|destroy" >&2; exit 2 ;;
esac
