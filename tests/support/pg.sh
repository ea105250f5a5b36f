#!/usr/bin/env bash
# A private PostgreSQL 15 cluster for tests, benchmarks and the quick start: no systemd, no
# system cluster touched. Usage:
#   pg.sh start DIR     initdb (once) + start on a free loopback port (a no-op if running);
#                       writes DIR/env
#   pg.sh stop DIR      fast shutdown
#   pg.sh restart DIR   stop + start on the same port (used by tests that kill the database)
#   pg.sh kill DIR      SIGKILL the postmaster (crash test), then it can be started again
# DIR/env defines PGHOST, PGPORT, PGUSER and EF45GW_TEST_PG_DSN. Runs the server as the
# `postgres` user when invoked as root (initdb refuses root).
set -euo pipefail

cmd=${1:?usage: pg.sh start|stop|restart|kill DIR}
dir=${2:?usage: pg.sh start|stop|restart|kill DIR}
bin=/usr/lib/postgresql/15/bin
mkdir -p "$dir"
dir=$(cd "$dir" && pwd)

as_owner() {
  if [ "$(id -u)" -eq 0 ]; then
    runuser -u postgres -- "$@"
  else
    "$@"
  fi
}

free_port() {
  python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'
}

start() {
  if [ "$(id -u)" -eq 0 ]; then
    chown postgres: "$dir"
    chmod 700 "$dir"
    if ! runuser -u postgres -- test -x "$dir"; then
      echo "pg.sh: the postgres user cannot reach $dir (a parent directory is not searchable)" >&2
      exit 1
    fi
  fi
  if [ ! -f "$dir/data/PG_VERSION" ]; then
    as_owner "$bin/initdb" -D "$dir/data" -U postgres --auth=trust --encoding=UTF8 \
      --locale=C.UTF-8 >"$dir/initdb.log" 2>&1 || { cat "$dir/initdb.log"; exit 1; }
  fi
  port=$(cat "$dir/port" 2>/dev/null || true)
  [ -n "$port" ] || port=$(free_port)
  as_owner sh -c "echo $port > '$dir/port'"
  as_owner mkdir -p "$dir/sock"
  # Already running (a second `start`, e.g. the quick start run again): keep it.
  if ! as_owner "$bin/pg_ctl" -D "$dir/data" status >/dev/null 2>&1; then
    as_owner "$bin/pg_ctl" -D "$dir/data" -l "$dir/server.log" -w -t 60 \
      -o "-p $port -k $dir/sock -c listen_addresses=127.0.0.1 -c fsync=off -c max_connections=200" \
      start >/dev/null
  fi
  as_owner sh -c "cat > '$dir/env'" <<ENV
export PGHOST=127.0.0.1
export PGPORT=$port
export PGUSER=postgres
export EF45GW_TEST_PG_DSN="host=127.0.0.1 port=$port user=postgres dbname=postgres"
export EF45GW_TEST_PG_DIR="$dir"
export EF45GW_TEST_PG_CTL="$(cd "$(dirname "$0")" && pwd)/pg.sh"
ENV
  chmod a+r "$dir/env" 2>/dev/null || true
  echo "postgres: 127.0.0.1:$port (data $dir/data)"
}

stop() {
  if [ -f "$dir/data/postmaster.pid" ]; then
    as_owner "$bin/pg_ctl" -D "$dir/data" -m fast -w -t 60 stop >/dev/null 2>&1 || true
  fi
}

case "$cmd" in
  start) start ;;
  stop) stop ;;
  restart) stop; start ;;
  kill)
    if [ -f "$dir/data/postmaster.pid" ]; then
      pid=$(head -1 "$dir/data/postmaster.pid")
      children=$(pgrep -P "$pid" || true)
      kill -9 "$pid" 2>/dev/null || true
      # Backends exit once they notice the postmaster is gone; wait for them (zombies count as
      # gone) so the next start does not race them.
      for _ in $(seq 1 200); do
        alive=0
        for c in $pid $children; do
          state=$(awk '{print $3}' "/proc/$c/stat" 2>/dev/null || echo Z)
          [ "$state" = Z ] || alive=1
        done
        [ $alive -eq 0 ] && break
        sleep 0.05
      done
      rm -f "$dir/data/postmaster.pid" "$dir"/sock/.s.PGSQL.*.lock
    fi
    ;;
  *) echo "pg.sh: unknown command $cmd" >&2; exit 2 ;;
esac
