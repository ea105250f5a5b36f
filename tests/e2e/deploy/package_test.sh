#!/usr/bin/env bash
# Builds the .deb with CPack, unpacks it into a scratch root and checks what a site gets: the
# binaries (runnable, version + commit), the unit (systemd-analyze verify), the config as a
# conffile, the secrets file private, the migrations and docs, the maintainer scripts.
set -euo pipefail
src=${1:?source dir}
build=${2:?build dir}
fail() { echo "FAIL: $*" >&2; exit 1; }

scratch=$(mktemp -d)
trap 'rm -rf "$scratch"' EXIT
(cd "$build" && cpack -G DEB -B "$scratch/out" >/dev/null)
version=$(sed -n 's/^project(ef45-gateway VERSION \([0-9.]*\).*/\1/p' "$src/CMakeLists.txt")
deb="$scratch/out/ef45-gateway_${version}_amd64.deb"
[ -f "$deb" ] || fail "no $deb (got: $(ls "$scratch/out"))"

root="$scratch/root"
dpkg-deb -x "$deb" "$root"
for f in usr/bin/ef45-gatewayd usr/bin/ef45ctl usr/bin/ef45-sim \
         usr/lib/systemd/system/ef45-gatewayd.service \
         etc/ef45-gateway/gateway.yaml etc/ef45-gateway/ef45-gatewayd.env \
         usr/share/ef45-gateway/migrations/0001_initial.sql \
         usr/share/doc/ef45-gateway/README.md; do
  [ -e "$root/$f" ] || fail "package lacks /$f"
done
for f in ef45-gatewayd.env gateway.yaml; do
  [ "$(stat -c %a "$root/etc/ef45-gateway/$f")" = 640 ] || fail "$f not 0640"
done

info=$(dpkg-deb -I "$deb")
grep -q "^ Package: ef45-gateway" <<<"$info" || fail "package name"
grep -q "^ Depends:.*libpqxx" <<<"$info" || fail "shared library dependencies missing"
conffiles=$(dpkg-deb -I "$deb" conffiles)
grep -qx /etc/ef45-gateway/gateway.yaml <<<"$conffiles" || fail "gateway.yaml is not a conffile"
dpkg-deb -I "$deb" postinst | grep -q "adduser --system" || fail "postinst does not create the user"
dpkg-deb -I "$deb" postinst | grep -q "chown root:ef45gw" || fail "postinst does not set the group"
dpkg-deb -I "$deb" postinst | grep -q "gateway.yaml" || fail "postinst leaves gateway.yaml alone"

out=$("$root/usr/bin/ef45-gatewayd" --version)
grep -q "ef45-gatewayd $version (commit " <<<"$out" || fail "--version printed: $out"
dpkg-deb -I "$deb" postinst | grep -q "data.keys" || fail "postinst makes no data key"
# The shipped config names /etc/ef45-gateway/data.keys, which postinst makes on a real install.
(umask 077 && printf 'k1 %s\n' "$(od -An -tx1 -N32 /dev/urandom | tr -d ' \n')" >"$scratch/data.keys")
EF45GW_DATA_KEYS_FILE="$scratch/data.keys" \
  "$root/usr/bin/ef45-gatewayd" check-config --config "$root/etc/ef45-gateway/gateway.yaml" \
  >/dev/null || fail "the shipped config does not pass check-config"

# The unit as shipped, pointed at the unpacked binary (verify checks that ExecStart exists).
sed "s#/usr/bin/ef45-gatewayd#$root/usr/bin/ef45-gatewayd#g" \
  "$root/usr/lib/systemd/system/ef45-gatewayd.service" >"$scratch/ef45-gatewayd.service"
systemd-analyze verify "$scratch/ef45-gatewayd.service" || fail "systemd-analyze verify"
for key in Type=notify WatchdogSec= Restart=on-failure User=ef45gw ProtectSystem=strict \
           ProtectHome=yes PrivateTmp=yes NoNewPrivileges=yes CapabilityBoundingSet= \
           EnvironmentFile= LimitCORE=0; do
  grep -q "^$key" "$scratch/ef45-gatewayd.service" || fail "unit lacks $key"
done
echo "1 passed, 0 failed"
