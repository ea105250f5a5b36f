#!/usr/bin/env bash
# Soak benchmark: bench/soak/run.sh [minutes] [--seed S] [--skip KIND,...] [-v] [--build DIR]
# 200 emulated readers x 1 recognition/s, a random fault every 30 s, then exactly-once and
# RSS/fd checks. Needs ef45-gatewayd and ef45-sim built (BUILD_DIR or --build, default build/)
# and PostgreSQL 15 binaries (a private cluster is started and removed). See README.md here.
set -euo pipefail
exec python3 "$(cd "$(dirname "$0")" && pwd)/soak.py" "$@"
