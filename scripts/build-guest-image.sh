#!/usr/bin/env bash
# Builds the small Debian 12 guest image that kaas boots as real VMs (QEMU/TCG through libvirtd):
# debootstrap minbase + systemd, openssh, python3 (for Ansible), etcd, cloud-init (NoCloud),
# the node software kubeadm expects (runc, CNI plugins, conntrack, iptables, socat; containerd 2
# comes from kaas's Kubernetes mirror: Debian 12's 1.6 is too old for Kubernetes 1.36),
# Debian's kernel + initrd (extracted next to the disk for direct kernel boot).
#
#   scripts/build-guest-image.sh OUT_DIR      -> OUT_DIR/guest-<hash>/{disk.qcow2,vmlinuz,initrd.img}
#
# Cached: the folder name is a hash of this recipe; a complete folder is reused as is.
# Prints the folder on the last line of stdout. Needs root (debootstrap, chroot).
set -euo pipefail
OUT=${1:?usage: build-guest-image.sh OUT_DIR}
MIRROR=${KAAS_GUEST_MIRROR:-http://deb.debian.org/debian}
SUITE=bookworm
PACKAGES=systemd-sysv,udev,openssh-server,python3,sudo,etcd-server,etcd-client,cloud-init,python3-cffi-backend,ifupdown,isc-dhcp-client,iproute2,kmod,linux-image-amd64,initramfs-tools,ca-certificates,runc,containernetworking-plugins,conntrack,iptables,socat,ethtool,ebtables,zstd
SIZE=2G

HASH=$( { sed -n '/^# recipe-begin/,$p' "$0"; echo "$SUITE $PACKAGES $SIZE"; } | sha256sum | cut -c1-12)
DEST="$OUT/guest-$HASH"
if [ -f "$DEST/.complete" ]; then
  echo "guest image: cached" >&2
  echo "$DEST"
  exit 0
fi
mkdir -p "$OUT"
WORK=$(mktemp -d "$OUT/.build-XXXXXX")
trap 'rm -rf "$WORK"' EXIT
ROOT="$WORK/root"
t0=$(date +%s)

# recipe-begin (everything below is hashed)
# (python3-cffi-backend: debootstrap does not resolve the virtual package cloud-init's
# python3-cryptography needs.) Downloaded .debs are kept in OUT/debs for the next build.
mkdir -p "$OUT/debs"
debootstrap --variant=minbase --cache-dir="$(readlink -f "$OUT/debs")" --include="$PACKAGES" \
  "$SUITE" "$ROOT" "$MIRROR" >&2
t1=$(date +%s)
echo "guest image: debootstrap took $((t1 - t0)) s" >&2

echo kaas-guest > "$ROOT/etc/hostname"
: > "$ROOT/etc/machine-id"   # a new one per guest at first boot
printf '/dev/vda / ext4 defaults,noatime 0 1\n' > "$ROOT/etc/fstab"
# Network: user-mode QEMU gives DHCP on eth0 (net.ifnames=0 on the kernel command line).
cat > "$ROOT/etc/network/interfaces" <<'NET'
auto lo
iface lo inet loopback
auto eth0
iface eth0 inet dhcp
NET
mkdir -p "$ROOT/etc/cloud/cloud.cfg.d"
cat > "$ROOT/etc/cloud/cloud.cfg.d/90-kaas.cfg" <<'CFG'
datasource_list: [NoCloud, None]
network: {config: disabled}
CFG
# etcd is configured and started by Ansible (bootstrap-master.yml), not at boot.
chroot "$ROOT" systemctl disable etcd.service >&2 || true
chroot "$ROOT" systemctl mask systemd-timesyncd.service apt-daily.timer apt-daily-upgrade.timer \
  e2scrub_all.timer fstrim.timer >&2 || true
rm -f "$ROOT"/etc/ssh/ssh_host_*   # regenerated per VM at first boot
chroot "$ROOT" sh -c 'ls /etc/ssh/ssh_host_* 2>/dev/null' || true
# sshd regenerates missing host keys (Debian's ssh.service does not): add a oneshot.
cat > "$ROOT/etc/systemd/system/ssh-hostkeys.service" <<'UNIT'
[Unit]
Description=Generate SSH host keys
Before=ssh.service
ConditionPathExists=!/etc/ssh/ssh_host_ed25519_key
[Service]
Type=oneshot
ExecStart=/usr/bin/ssh-keygen -A
[Install]
WantedBy=multi-user.target
UNIT
chroot "$ROOT" systemctl enable ssh-hostkeys.service >&2
echo 'UseDNS no' > "$ROOT/etc/ssh/sshd_config.d/kaas.conf"
chroot "$ROOT" passwd -l root >&2
rm -rf "$ROOT"/var/cache/apt/archives/*.deb "$ROOT"/var/lib/apt/lists/*

mkdir -p "$WORK/out"
cp "$(readlink -f "$ROOT/vmlinuz")" "$WORK/out/vmlinuz"
cp "$(readlink -f "$ROOT/initrd.img")" "$WORK/out/initrd.img"
truncate -s "$SIZE" "$WORK/disk.raw"
mkfs.ext4 -q -L kaasroot -d "$ROOT" "$WORK/disk.raw" >&2
qemu-img convert -c -O qcow2 "$WORK/disk.raw" "$WORK/out/disk.qcow2" >&2
chmod 0644 "$WORK/out"/*
chmod 0755 "$WORK/out"
t2=$(date +%s)
echo "guest image: packing took $((t2 - t1)) s, total $((t2 - t0)) s, disk $(du -h "$WORK/out/disk.qcow2" | cut -f1)" >&2
rm -rf "$DEST"
mv "$WORK/out" "$DEST"
touch "$DEST/.complete"
echo "$DEST"
