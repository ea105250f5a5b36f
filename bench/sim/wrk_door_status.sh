#!/usr/bin/env bash
# Peak keep-alive throughput of one emulated reader: ef45-sim --readers 1 on CPU 0, wrk on CPU 1,
# GET /1.0/config/door-status?lock_uid=... Prints a table. Not a test.
#
#   bench/sim/wrk_door_status.sh [path/to/ef45-sim]
#   env: DURATION=12 (s), CONNECTIONS=16, THREADS=1
set -euo pipefail

sim=${1:-${EF45_SIM:-$(cd "$(dirname "$0")/../.." && pwd)/build/tools/ef45-sim/ef45-sim}}
duration=${DURATION:-12}
connections=${CONNECTIONS:-16}
threads=${THREADS:-1}
[ -x "$sim" ] || { echo "wrk_door_status: no ef45-sim at $sim (pass its path)" >&2; exit 2; }
command -v wrk >/dev/null || { echo "wrk_door_status: wrk is not installed" >&2; exit 2; }

cpus=$(nproc)
pin_sim=()
pin_wrk=()
if [ "$cpus" -ge 2 ] && command -v taskset >/dev/null; then
  pin_sim=(taskset -c 0)
  pin_wrk=(taskset -c 1)
fi

dir=$(mktemp -d)
sim_pid=
cleanup() {
  if [ -n "$sim_pid" ] && kill -0 "$sim_pid" 2>/dev/null; then
    kill -TERM "$sim_pid" 2>/dev/null || true
    wait "$sim_pid" 2>/dev/null || true
  fi
  rm -rf "$dir"
}
trap cleanup EXIT

"${pin_sim[@]}" "$sim" --readers 1 --base-port 0 --control-port 0 --log-level warn \
  --ready-file "$dir/ready.json" &
sim_pid=$!
for _ in $(seq 1 300); do
  [ -f "$dir/ready.json" ] && break
  kill -0 "$sim_pid" 2>/dev/null || { echo "ef45-sim exited" >&2; exit 1; }
  sleep 0.02
done
[ -f "$dir/ready.json" ] || { echo "ef45-sim did not become ready" >&2; exit 1; }
port=$(sed -E 's/.*"readers":\[\{[^}]*"port":([0-9]+).*/\1/' "$dir/ready.json")

lock_uid=$(curl -fsS -X POST "http://127.0.0.1:$port/1.0/lock" |
  sed -E 's/.*"lock_uid":"([^"]+)".*/\1/')
[ -n "$lock_uid" ] || { echo "could not take the lock" >&2; exit 1; }
url="http://127.0.0.1:$port/1.0/config/door-status?lock_uid=$lock_uid"
curl -fsS "$url" >/dev/null

load0=$(cut -d' ' -f1-3 /proc/loadavg)
ticks() { awk '{print $14 + $15}' "/proc/$sim_pid/stat"; }
t0=$(ticks)
start=$(date +%s.%N)
out=$("${pin_wrk[@]}" wrk -t"$threads" -c"$connections" -d"${duration}s" --latency "$url")
end=$(date +%s.%N)
t1=$(ticks)
hz=$(getconf CLK_TCK)

us_per_request=$(awk -v a="$t0" -v b="$t1" -v hz="$hz" -v n="$(awk '/requests in/ {print $1}' <<<"$out")" \
  'BEGIN {printf "%.1f", (b - a) / hz / n * 1e6}')
rps=$(awk '/^Requests\/sec:/ {print $2}' <<<"$out")
total=$(awk '/requests in/ {print $1}' <<<"$out")
avg=$(awk '$1 == "Latency" {print $2; exit}' <<<"$out")
p50=$(awk '$1 == "50%" {print $2}' <<<"$out")
p90=$(awk '$1 == "90%" {print $2}' <<<"$out")
p99=$(awk '$1 == "99%" {print $2}' <<<"$out")
errors=$(awk '/Non-2xx|Socket errors/ {print}' <<<"$out")
cores=$(awk -v a="$t0" -v b="$t1" -v hz="$hz" -v s="$start" -v e="$end" \
  'BEGIN {printf "%.2f", (b - a) / hz / (e - s)}')

echo "wrk_door_status: ef45-sim --readers 1, GET /1.0/config/door-status, keep-alive"
echo "machine: $cpus CPUs (nproc), $(awk -F': ' '/model name/ {print $2; exit}' /proc/cpuinfo);" \
  "sim pinned: ${pin_sim[*]:-no}; wrk pinned: ${pin_wrk[*]:-no}"
echo "load average before the run: $load0 (other work on the host skews these figures)"
echo "command: wrk -t$threads -c$connections -d${duration}s --latency <url>"
echo
printf '| %-24s | %12s |\n' figure value
printf '|%s|%s|\n' "--------------------------" "--------------"
printf '| %-24s | %12s |\n' "requests" "$total"
printf '| %-24s | %12s |\n' "requests/s" "$rps"
printf '| %-24s | %12s |\n' "latency avg" "$avg"
printf '| %-24s | %12s |\n' "latency p50" "$p50"
printf '| %-24s | %12s |\n' "latency p90" "$p90"
printf '| %-24s | %12s |\n' "latency p99" "$p99"
printf '| %-24s | %12s |\n' "ef45-sim CPU (cores)" "$cores"
printf '| %-24s | %12s |\n' "ef45-sim CPU us/request" "$us_per_request"
printf '| %-24s | %12s |\n' "errors" "${errors:-none}"
