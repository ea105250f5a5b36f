#!/usr/bin/env bash
# The one place that installs what ef45-gateway needs on Debian 12: build tools, libraries,
# PostgreSQL 15 (server binaries only; we start private clusters ourselves), and the tools that
# tests and benchmarks use. Idempotent: safe to run again.
set -euo pipefail

packages=(
  build-essential cmake ninja-build pkg-config git ca-certificates curl
  clang-format clang-tidy clang libclang-rt-14-dev
  libboost1.81-dev libboost-json1.81-dev libboost-url1.81-dev
  libsimdjson-dev libpqxx-dev libyaml-cpp-dev prometheus-cpp-dev
  libgtest-dev libgmock-dev libsystemd-dev libspdlog-dev libssl-dev openssl libjemalloc-dev
  postgresql-15 postgresql-client-15
  prometheus wrk systemd procps iproute2 python3
)

if [ "$(id -u)" -ne 0 ]; then
  SUDO=sudo
else
  SUDO=
fi

missing=()
for p in "${packages[@]}"; do
  if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed'; then
    missing+=("$p")
  fi
done

if [ ${#missing[@]} -eq 0 ]; then
  echo "install-deps: all ${#packages[@]} packages already installed"
  exit 0
fi

echo "install-deps: installing ${missing[*]}"
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update -q
$SUDO apt-get install -y -q --no-install-recommends "${missing[@]}"
