#!/usr/bin/env bash
# deploy/systemd/kaasd.service passes `systemd-analyze verify` with no complaint at all (verify
# exits 0 on directives it ignores, so any output fails the test), and its hardening keeps
# `systemd-analyze security --offline` exposure at most 2.0 ("OK"). ExecStart is pointed at the
# kaasd just built (verify checks that the binary exists and is executable).
#   systemd_unit_test.sh UNIT KAASD
set -euo pipefail
unit=$1
kaasd=$2
dir=$(mktemp -d)
trap 'rm -rf "$dir"' EXIT
sed "s|/usr/bin/kaasd|$kaasd|" "$unit" > "$dir/kaasd.service"
out=$(systemd-analyze verify "$dir/kaasd.service" 2>&1) || { echo "$out"; exit 1; }
if [ -n "$out" ]; then
  echo "systemd-analyze verify complained:"
  echo "$out"
  exit 1
fi
security=$(systemd-analyze security --offline=true "$dir/kaasd.service" 2>&1) || true
exposure=$(echo "$security" | sed -n 's/.*Overall exposure level for kaasd.service: \([0-9.]*\).*/\1/p')
if [ -z "$exposure" ]; then
  echo "no exposure level in:"
  echo "$security"
  exit 1
fi
echo "exposure level: $exposure"
awk -v e="$exposure" 'BEGIN { exit !(e <= 2.0) }' || {
  echo "$security"
  echo "exposure $exposure is above 2.0"
  exit 1
}
# The hardening the issue asks for, by name (a later edit must not drop them silently).
for directive in 'User=kaas' 'ProtectSystem=strict' 'StateDirectory=kaas' 'NoNewPrivileges=true'; do
  grep -qx "$directive" "$unit" || { echo "missing $directive"; exit 1; }
done
