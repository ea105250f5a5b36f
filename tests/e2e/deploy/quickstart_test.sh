#!/usr/bin/env bash
# Runs deploy/quickstart.sh from a clean clone in a scratch directory (so a file missing from git
# breaks it), checks that /readyz answers and events arrive, then that `stop` leaves nothing
# running. Uses the binaries of this build (CI built them from its own clean clone).
set -euo pipefail
src=${1:?source dir}
build=${2:?build dir}
fail() { echo "FAIL: $*" >&2; exit 1; }

scratch=$(mktemp -d)
chmod 755 "$scratch"  # the private PostgreSQL runs as `postgres` when we are root
clone="$scratch/repo"
cleanup() {
  (cd "$clone" 2>/dev/null && QUICKSTART_PG_DIR="$scratch/pg" ./deploy/quickstart.sh stop \
    >/dev/null 2>&1) || true
  pkill -KILL -f "$scratch" 2>/dev/null || true
  rm -rf "$scratch"
}
trap cleanup EXIT
git clone --quiet "$src" "$clone"
port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')

cd "$clone"
CI=true QUICKSTART_SKIP_INSTALL=1 QUICKSTART_BUILD_DIR="$build" QUICKSTART_PG_DIR="$scratch/pg" \
  READERS=3 RATE=2 API_PORT="$port" ./deploy/quickstart.sh >"$scratch/quickstart.log" 2>&1 ||
  { cat "$scratch/quickstart.log"; fail "quickstart.sh failed"; }
grep -q "ef45-gateway is running" "$scratch/quickstart.log" || fail "no summary printed"
# Running it again is safe: same database, fresh simulator and gateway.
CI=true QUICKSTART_SKIP_INSTALL=1 QUICKSTART_BUILD_DIR="$build" QUICKSTART_PG_DIR="$scratch/pg" \
  READERS=3 RATE=2 API_PORT="$port" ./deploy/quickstart.sh >"$scratch/quickstart2.log" 2>&1 ||
  { cat "$scratch/quickstart2.log"; fail "a second quickstart.sh run failed"; }
[ "$(pgrep -fc "ef45-gatewayd run --config $clone/.quickstart")" -eq 1 ] ||
  fail "not exactly one gateway after the second run"
curl -fsS "http://127.0.0.1:$port/readyz" >/dev/null || fail "/readyz not ready"
token=$(cat "$clone/.quickstart/api-token")
auth=(-H "Authorization: Bearer $token")
[ "$(curl -s -o /dev/null -w '%{http_code}' "http://127.0.0.1:$port/api/v1/devices")" = 401 ] ||
  fail "the API answers without the token"
grep -q 'export TOKEN=' "$scratch/quickstart2.log" || fail "the summary does not show the token"
arrived=0
for _ in $(seq 1 100); do
  if curl -fsS "${auth[@]}" "http://127.0.0.1:$port/api/v1/events?kind=recognition&limit=1" |
      grep -q '"seq"'; then
    arrived=1
    break
  fi
  sleep 0.2
done
[ $arrived -eq 1 ] || fail "no recognition events arrived"
devices=$(curl -fsS "${auth[@]}" "http://127.0.0.1:$port/api/v1/devices")
[ "$(grep -o '"state":"up"' <<<"$devices" | wc -l)" -eq 3 ] || fail "not all readers up: $devices"

QUICKSTART_PG_DIR="$scratch/pg" ./deploy/quickstart.sh stop >/dev/null
for _ in $(seq 1 50); do
  pgrep -f "$scratch" >/dev/null || break
  sleep 0.2
done
if pgrep -af "$scratch"; then fail "processes left running after stop"; fi
echo "1 passed, 0 failed"
