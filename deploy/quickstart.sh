#!/usr/bin/env bash
# One command from a fresh Debian 12 machine to a running demo: installs packages, builds,
# starts a private PostgreSQL, a simulated fleet of EF-45 readers and ef45-gatewayd, waits until
# the gateway is ready, and prints where to look. Everything lives under .quickstart/ in the
# repository; running it again reuses what is there. `./deploy/quickstart.sh stop` stops it all.
#   READERS=8 RATE=0.5 API_PORT=8080 ./deploy/quickstart.sh
# For tests: QUICKSTART_BUILD_DIR=DIR uses binaries already built there (no build step),
# QUICKSTART_PG_DIR=DIR puts the PostgreSQL cluster there, QUICKSTART_SKIP_INSTALL=1 with CI=true
# skips the package step CI already ran.
set -euo pipefail

root=$(cd "$(dirname "$0")/.." && pwd)
state="$root/.quickstart"
build="${QUICKSTART_BUILD_DIR:-$root/build}"
readers=${READERS:-8}
rate=${RATE:-0.5}
api_port=${API_PORT:-8080}

stop_pidfile() {
  local file=$1
  [ -f "$file" ] || return 0
  local pid
  pid=$(cat "$file")
  if kill -0 "$pid" 2>/dev/null; then
    kill -TERM "$pid" 2>/dev/null || true
    for _ in $(seq 1 100); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
    kill -KILL "$pid" 2>/dev/null || true
  fi
  rm -f "$file"
}

# PostgreSQL runs as `postgres` when we are root; a checkout under /root is not reachable for
# that user, so the cluster then lives under /var/lib.
if [ -n "${QUICKSTART_PG_DIR:-}" ]; then
  pgdir=$QUICKSTART_PG_DIR
elif [ "$(id -u)" -eq 0 ]; then
  pgdir=/var/lib/ef45gw-quickstart/pg
else
  pgdir="$state/pg"
fi

stop_all() {
  stop_pidfile "$state/gatewayd.pid"
  stop_pidfile "$state/sim.pid"
  [ -d "$pgdir" ] && "$root/tests/support/pg.sh" stop "$pgdir" || true
  echo "quickstart: stopped (data kept in $state; remove it for a clean start)"
}

if [ "${1:-}" = stop ]; then
  stop_all
  exit 0
fi

mkdir -p "$state"
echo "== packages"
if [ "${CI:-}" = true ] && [ "${QUICKSTART_SKIP_INSTALL:-0}" = 1 ]; then
  echo "(skipped: CI already installed them)"
else
  "$root/deploy/install-deps.sh"
fi

echo "== build"
if [ -n "${QUICKSTART_BUILD_DIR:-}" ]; then
  echo "(using the binaries in $build)"
else
  cmake -S "$root" -B "$build" -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
  cmake --build "$build" --target ef45-gatewayd ef45-sim -j "$(nproc)"
fi

echo "== postgres"
mkdir -p "$(dirname "$pgdir")"
"$root/tests/support/pg.sh" start "$pgdir"
# shellcheck disable=SC1091
source "$pgdir/env"
psql -q -d postgres -tAc "SELECT 1 FROM pg_database WHERE datname = 'ef45gw'" | grep -q 1 ||
  psql -q -d postgres -c "CREATE DATABASE ef45gw"

echo "== simulated fleet ($readers readers, $rate recognitions/s each)"
stop_pidfile "$state/sim.pid"
rm -f "$state/sim-ready.json"
"$build/tools/ef45-sim/ef45-sim" --readers "$readers" --base-port 0 --control-port 0 \
  --rate "$rate" --door-rate 0.05 --seed 42 --ready-file "$state/sim-ready.json" \
  >"$state/sim.log" 2>&1 &
echo $! >"$state/sim.pid"
for _ in $(seq 1 100); do [ -f "$state/sim-ready.json" ] && break; sleep 0.1; done
[ -f "$state/sim-ready.json" ] || { echo "ef45-sim did not start; see $state/sim.log"; exit 1; }

echo "== gateway config"
# One admin API token for the demo, kept beside the config (mode 0600); the config holds only
# its SHA-256. A second run keeps the token.
if [ ! -s "$state/api-token" ]; then
  (umask 077 && python3 -c 'import secrets; print(secrets.token_hex(24))' >"$state/api-token")
fi
token=$(cat "$state/api-token")
token_sha256=$(printf %s "$token" | sha256sum | cut -c1-64)
# The data key that encrypts enrolled users' templates, faces, PINs and cards in PostgreSQL
# (mode 0600, like the token). A second run keeps it: without it the users cannot be read.
if [ ! -s "$state/data.keys" ]; then
  (umask 077 && python3 -c 'import secrets; print("k1", secrets.token_hex(32))' >"$state/data.keys")
fi
python3 - "$state/sim-ready.json" "$state/gateway.yaml" "$PGPORT" "$api_port" "$token_sha256" \
  "$state/data.keys" <<'PY'
import json, sys
ready, out, pgport, api_port, token_sha256, data_keys = sys.argv[1:7]
sim = json.load(open(ready))
lines = [
    "# Written by deploy/quickstart.sh for the simulated fleet.",
    "database:",
    f'  dsn: "host=127.0.0.1 port={pgport} user=postgres dbname=ef45gw"',
    "api:",
    f'  listen: "127.0.0.1:{api_port}"',
    f"  tokens: [{{ name: quickstart, role: admin, sha256: {token_sha256} }}]",
    "lock: { on_conflict: steal }",
    f'security: {{ data_keys_file: "{data_keys}" }}',
    "readers:",
]
for r in sim["readers"]:
    lines.append(f'  - {{ id: "sim-{r["index"]:03d}", host: 127.0.0.1, port: {r["port"]} }}')
open(out, "w").write("\n".join(lines) + "\n")
PY
"$build/daemon/ef45-gatewayd" check-config --config "$state/gateway.yaml"

echo "== ef45-gatewayd"
stop_pidfile "$state/gatewayd.pid"
"$build/daemon/ef45-gatewayd" run --config "$state/gateway.yaml" >"$state/gatewayd.log" 2>&1 &
echo $! >"$state/gatewayd.pid"
ready=0
for _ in $(seq 1 300); do
  if curl -fsS "http://127.0.0.1:$api_port/readyz" >/dev/null 2>&1; then ready=1; break; fi
  kill -0 "$(cat "$state/gatewayd.pid")" 2>/dev/null || break
  sleep 0.1
done
if [ $ready -ne 1 ]; then
  echo "ef45-gatewayd is not ready; last lines of $state/gatewayd.log:"
  tail -20 "$state/gatewayd.log"
  exit 1
fi

control=$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["control_port"])' \
  "$state/sim-ready.json")
cat <<INFO

ef45-gateway is running.
  API        http://127.0.0.1:$api_port/api/v1/
  metrics    http://127.0.0.1:$api_port/metrics
  logs       $state/gatewayd.log (gateway), $state/sim.log (simulator)
  database   psql "host=127.0.0.1 port=$PGPORT user=postgres dbname=ef45gw"
  simulator  http://127.0.0.1:$control/sim/readers (control API: faults, enrolment)

  API token  $state/api-token (role admin; the config holds its SHA-256)
  data key   $state/data.keys (encrypts enrolled users at rest; keep it with backups' keys)

Try:
  export TOKEN=\$(cat $state/api-token)
  curl -s -H "Authorization: Bearer \$TOKEN" http://127.0.0.1:$api_port/api/v1/devices
  curl -s -H "Authorization: Bearer \$TOKEN" 'http://127.0.0.1:$api_port/api/v1/events?limit=5'
  curl -sN -H "Authorization: Bearer \$TOKEN" http://127.0.0.1:$api_port/api/v1/events/stream
  curl -s -X POST -H "Authorization: Bearer \$TOKEN" -d '{"duration_s":3}' \\
       http://127.0.0.1:$api_port/api/v1/devices/sim-000/relay

Stop everything:  ./deploy/quickstart.sh stop
INFO
