#!/usr/bin/env bash
# Starts virtlogd and libvirtd (as root) for the real-VM tests, and waits for the socket.
set -euo pipefail
mkdir -p /var/log/libvirt
pgrep -x virtlogd >/dev/null || virtlogd -d
pgrep -x libvirtd >/dev/null || libvirtd -d
for _ in $(seq 1 50); do
  [ -S /var/run/libvirt/libvirt-sock ] && break
  sleep 0.2
done
virsh -c qemu:///system version >/dev/null || { echo "libvirtd did not come up" >&2; exit 1; }
