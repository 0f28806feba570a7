#!/bin/sh
# install-node-files.sh ARCHIVE.tar.zst TAR-SHA256: installs the archive tasks/node-files.yml
# staged for this node (run as root by Ansible's script module: no Python on the node). Files
# keep the archive's modes and become root's; etcd's member certificate and key become etcd's.
# Then what every node needs before etcd and Kubernetes: kernel settings, containerd started and
# the images imported, the kubelet enabled, etcd (re)started when its files changed. The files
# from the mirror were checked against its checksums where the archive was made (at native
# speed; hashing hundreds of MB costs an emulated guest minutes). Idempotent: a second run with
# the same archive changes nothing and prints no KAAS-CHANGED.
set -eu
archive=$1
archive_sum=$2  # of the uncompressed tar, taken where the archive was made
etcd_files="/etc/default/etcd /etc/kaas/pki/etcd/ca.crt /etc/kaas/pki/etcd/member.crt
  /etc/kaas/pki/etcd/member.key /etc/kaas/pki/etcd/client.crt /etc/kaas/pki/etcd/client.key"
fingerprint() { cat "$@" 2>/dev/null | sha256sum; }
etcd_before=$(fingerprint $etcd_files)
# containerd's binaries by the checksums the mirror gave them (hashing them here would cost the
# node seconds), its configuration and unit by their contents.
containerd_state() {
  grep -E ' usr/local/bin/(containerd|containerd-shim-runc-v2)$' /etc/kaas/kubernetes.SHA256SUMS 2>/dev/null
  cat /etc/containerd/config.toml /etc/systemd/system/containerd.service 2>/dev/null
}
containerd_before=$(containerd_state | sha256sum)
# Existing folders keep their owner and mode (/etc stays /etc); new ones get the archive's.
# -m: files dated now, not 1970.
zstd -q -d -c "$archive" | tar -xmf - -C / --no-same-owner --no-overwrite-dir
rm -f "$archive"
# The same archive as the last install changed nothing.
changed=false
if [ "$(cat /etc/kaas/node-files.sha256 2>/dev/null)" != "$archive_sum" ]; then
  changed=true
fi

# Kernel settings for Kubernetes networking, swap off.
printf 'net.ipv4.ip_forward = 1\nnet.bridge.bridge-nf-call-iptables = 1\nnet.bridge.bridge-nf-call-ip6tables = 1\n' > /etc/sysctl.d/90-kaas.conf
printf 'overlay\nbr_netfilter\n' > /etc/modules-load.d/kaas.conf
modprobe overlay 2>/dev/null || true
modprobe br_netfilter 2>/dev/null || true
sysctl -q -p /etc/sysctl.d/90-kaas.conf 2>/dev/null || sysctl -q -w net.ipv4.ip_forward=1
swapoff -a

if $changed; then
  echo "$archive_sum" > /etc/kaas/node-files.sha256
  echo "KAAS-CHANGED: files"
fi
if [ -f /etc/systemd/system/kubelet.service ]; then
  systemctl daemon-reload
  systemctl enable --quiet kubelet containerd
fi
# The images nothing may pull (no registry is reachable), into the namespace the kubelet uses;
# only those not imported before (recorded by the checksums the mirror gave them).
if [ -d /var/lib/kaas/images ] && [ -x /usr/local/bin/ctr ]; then
  # Restarted only when its own files changed: an upgrade that keeps the runtime must not pull
  # it from under a running control plane (the kubelet loses its runtime, probes fail, and the
  # API server the upgrade is about to ask may be restarted).
  if [ "$containerd_before" != "$(containerd_state | sha256sum)" ]; then
    systemctl restart containerd
    echo "KAAS-CHANGED: containerd restarted with its new files"
  else
    systemctl start containerd
  fi
  i=0
  until ctr version >/dev/null 2>&1; do  # minutes under software emulation
    i=$((i + 1)); [ $i -lt 300 ] || { echo "kaas: containerd did not come up" >&2; exit 1; }
    sleep 1
  done
  for image in /var/lib/kaas/images/*.tar; do
    sum=$(awk -v p="${image#/}" '$2 == p { print $1 }' /etc/kaas/kubernetes.SHA256SUMS)
    [ -n "$sum" ] || { echo "kaas: $image is not in /etc/kaas/kubernetes.SHA256SUMS" >&2; exit 1; }
    grep -qxF "$sum" /var/lib/kaas/images/imported 2>/dev/null && continue
    ctr -n k8s.io images import "$image" >/dev/null
    echo "$sum" >> /var/lib/kaas/images/imported
    echo "KAAS-CHANGED: imported $(basename "$image" .tar)"
  done
fi
if [ -f /etc/default/etcd ]; then
  [ -e /etc/kaas/pki/etcd/member.key ] && chown etcd: /etc/kaas/pki/etcd/member.crt /etc/kaas/pki/etcd/member.key
  systemctl daemon-reload  # etcd.service.d/kaas.conf: the start timeout of a joining member
  systemctl enable --quiet etcd
  if [ "$etcd_before" != "$(fingerprint $etcd_files)" ]; then
    systemctl restart etcd
    echo "KAAS-CHANGED: etcd restarted with its new files"
  else
    systemctl start etcd
  fi
fi
