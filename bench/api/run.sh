#!/usr/bin/env bash
# API benchmarks of ef45-gatewayd (issue 6, "Numbers"). Usage:
#   bench/api/run.sh BUILD_DIR            # BUILD_DIR has daemon/ef45-gatewayd, tools/ef45-sim/
#                                         # ef45-sim and bench/api/sse_subscribers
# Everything runs on this machine: a private PostgreSQL 15 (tests/support/pg.sh, with
# track_commit_timestamp = on), a fresh database migrated by `ef45-gatewayd migrate`, EVENTS
# events seeded by SQL (bench/api/seed.sql), ef45-sim with READERS readers, and the gateway.
#   1. wrk: the gateway pinned to CPU 0, wrk on CPU 1 (-t1 -c16, WRK_SECONDS s after a
#      WRK_WARMUP s warm-up per endpoint): req/s and latency percentiles per endpoint, plus the
#      CPU the gateway and PostgreSQL used meanwhile.
#   2. SSE: SUBSCRIBERS concurrent /api/v1/events/stream subscribers (sse_subscribers) while the
#      readers generate RECOGNITIONS_PER_S + DOORS_PER_S events/s in total: delay from each
#      event's commit (pg_xact_commit_timestamp) to its arrival, and lost/repeated events.
# Knobs (environment): EVENTS (1000000), READERS (100), WRK_SECONDS (20), WRK_WARMUP (5),
#   SUBSCRIBERS (100), SSE_SECONDS (30), SSE_WARMUP (5), RECOGNITIONS_PER_S (950),
#   DOORS_PER_S (50), PARTS ("wrk sse"), SSE_BIN (BUILD_DIR/bench/api/sse_subscribers),
#   OTHERS_CPUS (e.g. 1: pin PostgreSQL and ef45-sim to these CPUs for the wrk part, so CPU 0
#   is the gateway's alone; default: unpinned),
#   DB_POOL (database.pool_size of the gateway; default: the gateway's default),
#   ONLY (wrk part: the endpoints to run, by name: oldest recent middle device device_middle
#   random devices [page1 page1000]; default: all),
#   PERF=1 (profile the gateway with perf during each measured run and print its top symbols;
#   costs throughput, so do not take figures from such a run),
#   EF45GW_BENCH_TOKEN (if set: the gateway gets it as a read token and every request sends
#   "Authorization: Bearer ..."), KEEP=1 keeps the work directory (logs, config).
set -euo pipefail

build=$(cd "${1:?usage: bench/api/run.sh BUILD_DIR}" && pwd)
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../.." && pwd)
EVENTS=${EVENTS:-1000000}
READERS=${READERS:-100}
[ "$READERS" -ge 1 ] && [ "$READERS" -le 1000 ] || { echo "READERS: 1..1000 (ids sim-000..sim-999)" >&2; exit 2; }
WRK_SECONDS=${WRK_SECONDS:-20}
WRK_WARMUP=${WRK_WARMUP:-5}
SUBSCRIBERS=${SUBSCRIBERS:-100}
SSE_SECONDS=${SSE_SECONDS:-30}
SSE_WARMUP=${SSE_WARMUP:-5}
RECOGNITIONS_PER_S=${RECOGNITIONS_PER_S:-950}
DOORS_PER_S=${DOORS_PER_S:-50}
PARTS=${PARTS:-wrk sse}
SSE_BIN=${SSE_BIN:-$build/bench/api/sse_subscribers}
gatewayd=$build/daemon/ef45-gatewayd
sim_bin=$build/tools/ef45-sim/ef45-sim
for f in "$gatewayd" "$sim_bin"; do [ -x "$f" ] || { echo "missing $f" >&2; exit 2; }; done
if [[ " $PARTS " == *" sse "* ]] && [ ! -x "$SSE_BIN" ]; then
  echo "missing $SSE_BIN (build the sse_subscribers target, or set SSE_BIN)" >&2
  exit 2
fi

work=$(mktemp -d /tmp/ef45gw-apibench.XXXXXX)
chmod 755 "$work"  # pg.sh runs the server as postgres when we are root
sim_pid=""
gw_pid=""
cleanup() {
  local rc=$?
  for pid in $gw_pid $sim_pid; do
    if kill -0 "$pid" 2>/dev/null; then
      kill -TERM "$pid" 2>/dev/null || true
      for _ in $(seq 1 200); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
      kill -KILL "$pid" 2>/dev/null || true
    fi
  done
  "$root/tests/support/pg.sh" stop "$work/pg" >/dev/null 2>&1 || true
  if [ "${KEEP:-0}" = 1 ] || [ $rc -ne 0 ]; then
    echo "work directory kept: $work" >&2
  else
    rm -rf "$work"
  fi
  exit $rc
}
trap cleanup EXIT
trap 'exit 130' INT TERM

log() { echo "[$(date -u +%H:%M:%S)] $*" >&2; }

# Waits until "$@" succeeds, at most $1 seconds (polls every 0.1 s).
wait_for() {
  local deadline=$(($(date +%s) + $1))
  shift
  until "$@" >/dev/null 2>&1; do
    [ "$(date +%s)" -lt "$deadline" ] || return 1
    sleep 0.1
  done
}

# --- machine and versions ---
cpu_model=$(awk -F': ' '/^model name/ {print $2; exit}' /proc/cpuinfo)
echo "== ef45-gatewayd API benchmark ($(date -u +%Y-%m-%dT%H:%M:%SZ))"
echo "machine : $(nproc) CPUs, ${cpu_model:-unknown CPU}, $(awk '/MemTotal/ {printf "%.1f GB", $2/1048576}' /proc/meminfo) RAM, Linux $(uname -r)"
echo "gateway : $("$gatewayd" --version 2>&1 | head -1) ($gatewayd)"
echo "tools   : $(/usr/lib/postgresql/15/bin/postgres --version), $(wrk -v 2>&1 | head -1 | cut -d' ' -f1-2), $(g++ --version | head -1)"

# --- PostgreSQL ---
"$root/tests/support/pg.sh" start "$work/pg" >/dev/null
# shellcheck disable=SC1091
source "$work/pg/env"
psql -q -d postgres -c "ALTER SYSTEM SET track_commit_timestamp = on" >/dev/null
"$root/tests/support/pg.sh" restart "$work/pg" >/dev/null
source "$work/pg/env"
psql -q -d postgres -c "CREATE DATABASE ef45gw" >/dev/null
dsn="host=127.0.0.1 port=$PGPORT user=postgres dbname=ef45gw"
pg_sql() { psql -d ef45gw -tAXq -c "$1"; }

# --- emulated readers (generation paused until the SSE part) ---
"$sim_bin" --readers "$READERS" --base-port 0 --control-port 0 \
  --rate "$(awk -v r="$RECOGNITIONS_PER_S" -v n="$READERS" 'BEGIN {printf "%.6f", r / n}')" \
  --door-rate "$(awk -v r="$DOORS_PER_S" -v n="$READERS" 'BEGIN {printf "%.6f", r / n}')" \
  --seed 45 --ready-file "$work/sim.json" --log-level warn >"$work/sim.log" 2>&1 &
sim_pid=$!
wait_for 30 test -s "$work/sim.json" || { cat "$work/sim.log" >&2; exit 1; }
control=$(jq -r .control_port "$work/sim.json")
sim_post() { curl -fsS -X POST "http://127.0.0.1:$control$1" >/dev/null; }
sim_post /sim/generation/pause
sim_generated() {  # events the readers have generated so far (recognitions + door changes)
  curl -fsS "http://127.0.0.1:$control/sim/readers" |
    jq '[.[] | .recognitions_generated + .door_changes_generated] | add'
}

# --- gateway configuration, migrate, seed ---
api_port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
# Every subscriber and wrk connection comes from 127.0.0.1: room for all of them and a few more.
conns=$((SUBSCRIBERS + 32))
{
  echo "log: { level: warn }"
  echo "database: { dsn: \"$dsn\"${DB_POOL:+, pool_size: $DB_POOL} }"
  (umask 077 && python3 -c 'import secrets; print("k1", secrets.token_hex(32))' >"$work/data.keys")
  echo "security: { data_keys_file: \"$work/data.keys\" }"
  if [ -n "${EF45GW_BENCH_TOKEN:-}" ]; then
    sha=$(printf %s "$EF45GW_BENCH_TOKEN" | sha256sum | cut -d' ' -f1)
    echo "api: { listen: \"127.0.0.1:$api_port\", max_connections_per_ip: $conns, tokens: [ { name: bench, role: read, sha256: $sha } ] }"
  else
    echo "api: { listen: \"127.0.0.1:$api_port\", max_connections_per_ip: $conns }"
  fi
  echo "readers:"
  jq -r '.readers[] | "  - { id: sim-\((1000 + .index) | tostring | .[1:]), host: 127.0.0.1, port: \(.port) }"' "$work/sim.json"
} >"$work/gateway.yaml"
"$gatewayd" migrate --config "$work/gateway.yaml" >"$work/migrate.log" 2>&1 ||
  { cat "$work/migrate.log" >&2; exit 1; }
log "seeding $EVENTS events over $READERS readers"
t0=$(date +%s.%N)
psql -d ef45gw -qX -v events="$EVENTS" -v devices="$READERS" -f "$here/seed.sql" >/dev/null
t1=$(date +%s.%N)
stored=$(pg_sql "SELECT count(*) FROM events")
db_size=$(pg_sql "SELECT pg_size_pretty(pg_database_size('ef45gw'))")
echo "data    : $stored events stored over $READERS readers (database $db_size; seeded in $(awk -v a="$t0" -v b="$t1" 'BEGIN {printf "%.0f", b - a}') s)"

# --- gateway on CPU 0 ---
auth=()
[ -n "${EF45GW_BENCH_TOKEN:-}" ] && auth=(-H "Authorization: Bearer $EF45GW_BENCH_TOKEN")
taskset -c 0 "$gatewayd" run --config "$work/gateway.yaml" >"$work/gateway.log" 2>&1 &
gw_pid=$!
api="http://127.0.0.1:$api_port"
ready() { curl -fsS "$api/readyz" | jq -e '.started == true' >/dev/null; }
wait_for 60 ready || { tail -20 "$work/gateway.log" >&2; exit 1; }
all_up() {
  [ "$(curl -fsS "${auth[@]}" "$api/api/v1/devices" | jq '[.items[] | select(.state == "up")] | length')" = "$READERS" ]
}
wait_for 120 all_up || { echo "not every reader is up" >&2; tail -20 "$work/gateway.log" >&2; exit 1; }
if [ -n "${EF45GW_BENCH_TOKEN:-}" ]; then
  echo "auth    : bearer token (role read) on every request; without it /api/v1/devices answers $(curl -s -o /dev/null -w '%{http_code}' "$api/api/v1/devices")"
else
  echo "auth    : none (EF45GW_BENCH_TOKEN not set: the API is open)"
fi
echo "readers : $READERS emulated readers up, polled at the default rates (ef45-sim on the same machine)"
metrics_bytes=$(curl -fsS "${auth[@]}" "$api/metrics" | wc -c)
metrics_series=$(curl -fsS "${auth[@]}" "$api/metrics" | grep -vc '^#')
devices_bytes=$(curl -fsS "${auth[@]}" "$api/api/v1/devices" | wc -c)
echo "metrics : /metrics is $metrics_bytes bytes, $metrics_series series; /api/v1/devices is $devices_bytes bytes"

cpu_ticks() { awk '{print $14 + $15}' "/proc/$1/stat" 2>/dev/null || echo 0; }
pg_ticks() {  # the postmaster and its children (backends, walwriter, ...)
  local pm total=0
  pm=$(head -1 "$work/pg/data/postmaster.pid")
  for p in $pm $(pgrep -P "$pm"); do total=$((total + $(cpu_ticks "$p"))); done
  echo $total
}
machine_ticks() { awk '/^cpu / {print $2 + $3 + $4 + $7 + $8}' /proc/stat; }  # busy, all CPUs
hz=$(getconf CLK_TCK)
# perf_start NAME SECONDS / perf_end NAME: a profile of the gateway (PERF=1 only).
perf_pid=""
perf_start() {
  [ "${PERF:-0}" = 1 ] || return 0
  perf record -F 499 -p "$gw_pid" -o "$work/perf-$1.data" -- sleep "$2" >/dev/null 2>&1 &
  perf_pid=$!
}
perf_end() {
  [ "${PERF:-0}" = 1 ] || return 0
  wait "$perf_pid" || true
  perf report -i "$work/perf-$1.data" --no-children --stdio --sort dso,symbol \
    --percent-limit 1 2>/dev/null | grep -v '^#' | grep -v '^$' | cut -c1-150 | head -30 \
    >"$work/perf-$1.txt"
  profiles+=("$1")
}
profiles=()
cores() { awk -v a="$1" -v b="$2" -v t0="$3" -v t1="$4" -v hz="$hz" 'BEGIN {print (b - a) / hz / (t1 - t0)}'; }

# Parses wrk --latency output into: req/s p50_ms p90_ms p99_ms errors
parse_wrk() {
  awk '
    function ms(v) {
      if (v ~ /us$/) return substr(v, 1, length(v) - 2) / 1000
      if (v ~ /ms$/) return substr(v, 1, length(v) - 2) + 0
      if (v ~ /s$/) return substr(v, 1, length(v) - 1) * 1000
      return v
    }
    /^ +50%/ {p50 = ms($2)} /^ +90%/ {p90 = ms($2)} /^ +99%/ {p99 = ms($2)}
    /^Requests\/sec:/ {rps = $2}
    /Non-2xx or 3xx responses:/ {err += $NF}
    /Socket errors:/ {gsub(",", ""); err += $4 + $6 + $8 + $10}
    END {printf "%s %.2f %.2f %.2f %d\n", rps, p50, p90, p99, err}'
}

# PostgreSQL's own time for the SQL an endpoint runs (the same text as lib/store/queries.cpp;
# median Execution Time of 5 EXPLAIN ANALYZE runs, without load), to tell database time from
# gateway time.
micros() { echo "(extract(epoch from $1) * 1000000)::int8"; }
events_sql() {  # AFTER [DEVICE]
  echo "SELECT seq, device_id, event_key, kind, sources, revision, device_log_id, log_epoch,
    encounter_id, event_type, info, additional_data, user_uuid, $(micros device_time),
    $(micros received_at), $(micros stored_at), payload::text FROM events WHERE seq > $1
    ${2:+AND device_id = '$2'} ORDER BY seq LIMIT 100"
}
devices_sql="SELECT d.device_id, c.last_log_id, c.log_epoch, $(micros c.updated_at), s.door_sensor,
  s.relay, s.tamper, s.rte, $(micros s.observed_at), $(micros s.changed_at),
  (SELECT max(seq) FROM events e WHERE e.device_id = d.device_id)
  FROM devices d LEFT JOIN device_cursors c USING (device_id) LEFT JOIN door_state s USING (device_id)
  ORDER BY d.device_id"
pg_exec_ms() {
  for _ in 1 2 3 4 5; do
    psql -d ef45gw -tAXq -c "EXPLAIN (ANALYZE, TIMING OFF) $1" | awk '/Execution Time/ {print $3}'
  done | sort -n | sed -n 3p
}

# pin_others CPUS: PostgreSQL (postmaster and every backend; new ones inherit) and ef45-sim.
pin_others() {
  local pm
  pm=$(head -1 "$work/pg/data/postmaster.pid")
  for p in $pm $(pgrep -P "$pm"); do taskset -a -p -c "$1" "$p" >/dev/null 2>&1 || true; done
  taskset -a -p -c "$1" "$sim_pid" >/dev/null
}
all_cpus=0-$(($(nproc) - 1))

if [[ " $PARTS " == *" wrk "* ]]; then
  pg_place="PostgreSQL and ef45-sim unpinned"
  if [ -n "${OTHERS_CPUS:-}" ]; then
    pin_others "$OTHERS_CPUS"
    pg_place="PostgreSQL and ef45-sim on CPU $OTHERS_CPUS"
  fi
  middle=$(pg_sql "SELECT seq FROM events ORDER BY seq OFFSET $((stored / 2)) LIMIT 1")
  max_seq=$(pg_sql "SELECT max(seq) FROM events")
  cat >"$work/random_after.lua" <<LUA
-- A client paging from a random point of the history.
request = function()
  return wrk.format(nil, "/api/v1/events?limit=100&after=" .. math.random(0, $max_seq))
end
LUA
  # A client following the newest events: the page is inside the gateway's in-memory window
  # (it preloads the newest 1,000 at start).
  recent=$(pg_sql "SELECT seq FROM events ORDER BY seq DESC OFFSET 100 LIMIT 1")
  endpoints=(
    "/api/v1/events?limit=100"
    "/api/v1/events?limit=100&after=$recent"
    "/api/v1/events?limit=100&after=$middle"
    "/api/v1/events?limit=100&device=sim-042"
    "/api/v1/events?limit=100&device=sim-042&after=$middle"
    "random:/api/v1/events?limit=100&after=<random>"
    "/api/v1/devices"
  )
  sqls=(
    "$(events_sql 0)"
    "$(events_sql "$recent")"
    "$(events_sql "$middle")"
    "$(events_sql 0 sim-042)"
    "$(events_sql "$middle" sim-042)"
    "$(events_sql "$middle")"
    "$devices_sql"
  )
  names=(oldest recent middle device device_middle random devices)
  if [ "${PAGE_SIZES:-0}" = 1 ]; then
    names+=(page1 page1000)
    # Per-request vs per-event cost of the listing: the same query with 1 and 1,000 rows.
    endpoints+=("/api/v1/events?limit=1&after=$middle" "/api/v1/events?limit=1000&after=$middle")
    sqls+=("$(events_sql "$middle" | sed 's/LIMIT 100/LIMIT 1/')"
      "$(events_sql "$middle" | sed 's/LIMIT 100/LIMIT 1000/')")
  fi
  echo
  echo "== wrk: gateway on CPU 0 (taskset -c 0), wrk on CPU 1 (taskset -c 1 wrk -t1 -c16 -d${WRK_SECONDS}s --latency), after ${WRK_WARMUP}s warm-up each; $pg_place"
  printf "%-50s %7s %7s %7s %7s %6s %6s %6s %6s %8s %6s %7s\n" endpoint "req/s" "p50 ms" "p90 ms" "p99 ms" errors "gw CPU" "pg CPU" "all" "req/gw-s" "pg ms" "KB/resp"
  for i in "${!endpoints[@]}"; do
    ep=${endpoints[$i]}
    [ -z "${ONLY:-}" ] || [[ " $ONLY " == *" ${names[$i]} "* ]] || continue
    pg_ms=$(pg_exec_ms "${sqls[$i]}")
    script=()
    path=$ep
    if [[ $ep == random:* ]]; then
      script=(-s "$work/random_after.lua")
      path=${ep#random:}
      url="$api/api/v1/events?limit=100"
    else
      url="$api$path"
    fi
    bytes=$(curl -fsS "${auth[@]}" "$url" | wc -c)
    taskset -c 1 wrk -t1 -c16 -d"${WRK_WARMUP}s" "${auth[@]}" "${script[@]}" "$url" >/dev/null
    name=$(echo "$path" | tr -c 'a-zA-Z0-9\n' _)
    perf_start "$name" "$WRK_SECONDS"
    g0=$(cpu_ticks "$gw_pid"); p0=$(pg_ticks); m0=$(machine_ticks); s0=$(date +%s.%N)
    taskset -c 1 wrk -t1 -c16 -d"${WRK_SECONDS}s" --latency "${auth[@]}" "${script[@]}" "$url" \
      >"$work/wrk.out"
    g1=$(cpu_ticks "$gw_pid"); p1=$(pg_ticks); m1=$(machine_ticks); s1=$(date +%s.%N)
    perf_end "$name"
    read -r rps p50 p90 p99 errors < <(parse_wrk <"$work/wrk.out")
    gw_cores=$(cores "$g0" "$g1" "$s0" "$s1")
    printf "%-50s %7.0f %7.2f %7.2f %7.2f %6d %6.2f %6.2f %6.2f %8.0f %6.2f %7.1f\n" "$path" "$rps" "$p50" "$p90" \
      "$p99" "$errors" "$gw_cores" "$(cores "$p0" "$p1" "$s0" "$s1")" "$(cores "$m0" "$m1" "$s0" "$s1")" \
      "$(awk -v r="$rps" -v c="$gw_cores" 'BEGIN {print (c > 0) ? r / c : 0}')" "$pg_ms" \
      "$(awk -v b="$bytes" 'BEGIN {print b / 1024}')"
    cp "$work/wrk.out" "$work/wrk-$name.out"
  done
  echo "(CPU in cores during the measured run: gw = the gateway, pg = all PostgreSQL processes,"
  echo " all = the whole machine incl. wrk, ef45-sim and anything else running; req/gw-s = requests"
  echo " per second of gateway CPU, less sensitive to other load; pg ms = PostgreSQL's execution"
  echo " time of the endpoint's SQL, idle, median of 5 EXPLAIN ANALYZE (random: at the middle seq); load before: $(cut -d' ' -f1-3 /proc/loadavg))"
fi

if [[ " $PARTS " == *" sse "* ]]; then
  # The gateway may use both CPUs here: the figure is the stream's delay, not one core's rate.
  taskset -a -p -c "$all_cpus" "$gw_pid" >/dev/null
  [ -z "${OTHERS_CPUS:-}" ] || pin_others "$all_cpus"
  after=$(pg_sql "SELECT coalesce(max(seq), 0) FROM events")
  gen0=$(sim_generated)
  sim_post /sim/generation/resume
  echo
  echo "== SSE: $SUBSCRIBERS subscribers of /api/v1/events/stream?after=$after; readers generate $((RECOGNITIONS_PER_S + DOORS_PER_S)) events/s ($RECOGNITIONS_PER_S recognitions + $DOORS_PER_S door changes) through the gateway into PostgreSQL; gateway unpinned"
  echo "   ${SSE_WARMUP}s warm-up, ${SSE_SECONDS}s window; delay = arrival at the subscriber - pg_xact_commit_timestamp(xmin) of the event's row (same clock)"
  load_before=$(cut -d' ' -f1-3 /proc/loadavg)
  xacts() { pg_sql "SELECT xact_commit + xact_rollback FROM pg_stat_database WHERE datname = 'ef45gw'"; }
  x0=$(xacts)
  g0=$(cpu_ticks "$gw_pid"); p0=$(pg_ticks); m0=$(machine_ticks); e0=$(cpu_ticks "$sim_pid")
  s0=$(date +%s.%N)
  perf_start sse "$((SSE_WARMUP + SSE_SECONDS))"
  set +e
  "$SSE_BIN" --port "$api_port" --dsn "$dsn" --after "$after" --subscribers "$SUBSCRIBERS" \
    --warmup-s "$SSE_WARMUP" --seconds "$SSE_SECONDS" --drain-s 20 >"$work/sse.out" 2>"$work/sse.err"
  sse_rc=$?
  set -e
  g1=$(cpu_ticks "$gw_pid"); p1=$(pg_ticks); m1=$(machine_ticks); e1=$(cpu_ticks "$sim_pid")
  s1=$(date +%s.%N)
  x1=$(xacts)
  writer_tx=$(pg_sql "SELECT count(DISTINCT xmin::text) FROM events WHERE seq > $after")
  gen1=$(sim_generated)
  sim_post /sim/generation/pause
  perf_end sse
  cat "$work/sse.out"
  [ -s "$work/sse.err" ] && sed 's/^/sse_subscribers: /' "$work/sse.err"
  printf "%-52s %14.1f\n" "events generated by the readers/s (whole run)" \
    "$(awk -v a="$gen0" -v b="$gen1" -v t0="$s0" -v t1="$s1" 'BEGIN {print (b - a) / (t1 - t0)}')"
  per_s() { awk -v a="$1" -v b="$2" -v t0="$s0" -v t1="$s1" 'BEGIN {print (b - a) / (t1 - t0)}'; }
  printf "%-52s %14.0f\n" "PostgreSQL transactions/s in ef45gw (whole run)" "$(per_s "$x0" "$x1")"
  printf "%-52s %14.1f\n" "  of which event-writer commits/s" "$(per_s 0 "$writer_tx")"
  printf "%-52s %14.2f\n" "gateway CPU (cores, whole run)" "$(cores "$g0" "$g1" "$s0" "$s1")"
  printf "%-52s %14.2f\n" "PostgreSQL CPU (cores, whole run)" "$(cores "$p0" "$p1" "$s0" "$s1")"
  printf "%-52s %14.2f\n" "ef45-sim CPU (cores, whole run)" "$(cores "$e0" "$e1" "$s0" "$s1")"
  printf "%-52s %14.2f\n" "machine CPU busy (cores, whole run)" "$(cores "$m0" "$m1" "$s0" "$s1")"
  client_s=$(awk '/this client.s CPU/ {print $NF}' "$work/sse.out")
  printf "%-52s %14.2f\n" "  of which not this benchmark (other users)" "$(awk -v m="$(cores "$m0" "$m1" "$s0" "$s1")" \
    -v g="$(cores "$g0" "$g1" "$s0" "$s1")" -v p="$(cores "$p0" "$p1" "$s0" "$s1")" \
    -v e="$(cores "$e0" "$e1" "$s0" "$s1")" -v c="${client_s:-0}" -v t0="$s0" -v t1="$s1" \
    'BEGIN {print m - g - p - e - c / (t1 - t0)}')"
  printf "%-52s %14s\n" "load average before" "${load_before// /\/}"
  echo "sse_subscribers exit status: $sse_rc (0 = every subscriber got every committed event once, in order, and kept up)"
fi
for p in "${profiles[@]}"; do
  echo
  echo "== perf profile of the gateway (self time, top symbols): $p"
  cat "$work/perf-$p.txt"
done
kill -0 "$gw_pid" 2>/dev/null || { echo "the gateway died; log:" >&2; tail -20 "$work/gateway.log" >&2; exit 1; }
