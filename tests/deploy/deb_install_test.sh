#!/usr/bin/env bash
# `make package`'s .deb (cmake/KaasPackage.cmake), built with cpack from this build tree: its
# control data sane, then installed for real — `apt-get install ./kaas_VERSION_amd64.deb` (dpkg -i
# plus the dependencies it declares, from Debian) into a scratch Debian 12 root made with
# debootstrap, not into this machine (it is shared with the other tests). Inside that root: the
# package is installed with its files in place, postinst made the `kaas` user and /etc/kaas, the
# installed kaasd runs as that user on the libraries the package pulled in and serves /readyz
# with the installed templates and portal; `apt-get purge` takes its files away again.
#   deb_install_test.sh BUILD_DIR SOURCE_DIR VERSION
# The minbase root is kept as a tarball in KAAS_DEB_TEST_CACHE (default
# /var/cache/kaas/deb-install-test), with the .debs apt fetched, for the next run.
set -euo pipefail
build=$1
source=$2
version=$3
fail() { echo "FAIL: $*"; exit 1; }
[ "$(id -u)" = 0 ] || fail "needs root (debootstrap, chroot, mount): run make test as root"
command -v debootstrap >/dev/null || fail "debootstrap is missing (scripts/install-deps.sh installs it)"
cache=${KAAS_DEB_TEST_CACHE:-/var/cache/kaas/deb-install-test}
mirror=${KAAS_DEBIAN_MIRROR:-http://deb.debian.org/debian}
mkdir -p "$cache/debs" "$cache/apt/partial"
out=$(mktemp -d)
root=$out/root
pid=
cleanup() {
  if [ -n "$pid" ]; then kill "$pid" 2>/dev/null || true; wait "$pid" 2>/dev/null || true; fi
  for m in "$root/var/cache/apt/archives" "$root/proc"; do
    mountpoint -q "$m" 2>/dev/null && umount -l "$m"
  done
  rm -rf "$out"
}
trap cleanup EXIT
in_root() { chroot "$root" env -i PATH=/usr/sbin:/usr/bin:/sbin:/bin DEBIAN_FRONTEND=noninteractive "$@"; }

base=$cache/bookworm-minbase.tar
if [ ! -f "$base" ]; then
  t0=$(date +%s)
  debootstrap --variant=minbase --cache-dir="$cache/debs" bookworm "$out/base" "$mirror" \
    >"$out/debootstrap.log" 2>&1 || { tail -30 "$out/debootstrap.log"; exit 1; }
  tar -C "$out/base" -cf "$base.tmp" . && mv "$base.tmp" "$base"
  rm -rf "$out/base"
  echo "debootstrap: $(($(date +%s) - t0)) s"
fi
mkdir "$root"
tar -C "$root" -xf "$base"

t0=$(date +%s)
cpack -G DEB -B "$out" --config "$build/CPackConfig.cmake" >"$out/cpack.log" 2>&1 || {
  cat "$out/cpack.log"
  exit 1
}
deb=$(ls "$out"/kaas_"$version"_*.deb)
echo "cpack: $(($(date +%s) - t0)) s"
info=$(dpkg-deb -I "$deb")
for want in "Package: kaas" "Version: $version" "libvirt0" "libpq5" "ansible-core" "postinst"; do
  grep -q "$want" <<<"$info" || fail "control lacks '$want': $info"
done
dpkg-deb -e "$deb" "$out/control"
sh -n "$out/control/postinst"
cp "$deb" "$root/tmp/kaas.deb"
cp /etc/resolv.conf "$root/etc/resolv.conf"
echo "deb $mirror bookworm main" >"$root/etc/apt/sources.list"
# Mirrors that serve a dated snapshot carry an expired Release date.
echo 'Acquire::Check-Valid-Until "false";' >"$root/etc/apt/apt.conf.d/99kaas-test"
mount -t proc proc "$root/proc"
mount --bind "$cache/apt" "$root/var/cache/apt/archives"
echo 'APT::Keep-Downloaded-Packages "true";' >>"$root/etc/apt/apt.conf.d/99kaas-test"
rm -f "$root/etc/apt/apt.conf.d/docker-clean"

t0=$(date +%s)
in_root apt-get update -qq >"$out/apt.log" 2>&1 || { cat "$out/apt.log"; exit 1; }
in_root apt-get install -y -qq --no-install-recommends /tmp/kaas.deb >>"$out/apt.log" 2>&1 || {
  tail -40 "$out/apt.log"
  exit 1
}
echo "apt-get install ./$(basename "$deb"): $(($(date +%s) - t0)) s"

status=$(in_root dpkg-query -W -f='${Status} ${Version}' kaas)
[ "$status" = "install ok installed $version" ] || fail "dpkg says '$status'"
for f in /usr/bin/kaasd /usr/bin/kaas /usr/lib/systemd/system/kaasd.service \
         /usr/share/kaas/templates/ansible/bootstrap-master.yml \
         /usr/share/kaas/templates/domain/test.xml /usr/share/kaas/web/index.html \
         /usr/share/doc/kaas/operations.md /usr/share/doc/kaas/examples/replicas/kaasd.yaml; do
  [ -f "$root$f" ] || fail "$f is not installed"
done
cmp "$root/usr/lib/systemd/system/kaasd.service" "$source/deploy/systemd/kaasd.service" ||
  fail "the installed unit is not deploy/systemd/kaasd.service"
# What the package declares it needs came with it: the shared libraries of both binaries
# resolve inside the root, and the programs kaasd runs are there.
for b in /usr/bin/kaasd /usr/bin/kaas; do
  missing=$(in_root ldd "$b" | grep 'not found' || true)
  [ -z "$missing" ] || fail "$b lacks libraries: $missing"
done
for p in ansible-playbook ssh ssh-keygen zstd; do
  in_root sh -c "command -v $p" >/dev/null || fail "$p did not come with the package"
done
# postinst: the system user the unit runs as, and /etc/kaas for its configuration.
passwd=$(in_root getent passwd kaas) || fail "postinst made no kaas user"
[ "$(cut -d: -f6-7 <<<"$passwd")" = "/var/lib/kaas:/usr/sbin/nologin" ] || fail "kaas user: $passwd"
etc=$(in_root stat -c '%a %U:%G' /etc/kaas)
[ "$etc" = "750 root:kaas" ] || fail "/etc/kaas is $etc"
[ "$(in_root /usr/bin/kaasd --version)" = "kaasd $version" ] || fail "kaasd --version"

# The installed kaasd, as the kaas user, on the root's libraries: ready once the installed
# ansible-playbook has syntax-checked the installed playbooks.
mkdir "$root/tmp/kaasd-data"
in_root chown kaas:kaas /tmp/kaasd-data
port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
chroot --userspec=kaas:kaas "$root" env -i PATH=/usr/bin:/bin HOME=/tmp/kaasd-data \
  KAAS_ADMIN_PASSWORD=correct-horse-battery /usr/bin/kaasd --listen "127.0.0.1:$port" \
  --data-dir /tmp/kaasd-data --templates-dir /usr/share/kaas/templates \
  --web-dir /usr/share/kaas/web --sim-hypervisors 1 >"$out/kaasd.log" 2>&1 &
pid=$!
t0=$(date +%s)
ready=
for _ in $(seq 1 600); do
  if curl -sf "http://127.0.0.1:$port/readyz" >"$out/readyz.json"; then ready=1; break; fi
  kill -0 "$pid" 2>/dev/null || { cat "$out/kaasd.log"; fail "the installed kaasd stopped"; }
  sleep 0.2
done
[ -n "$ready" ] || { cat "$out/kaasd.log"; fail "the installed kaasd never became ready"; }
echo "the installed kaasd ready after $(($(date +%s) - t0)) s"
grep -q '"ansible":"ok"' "$out/readyz.json" || fail "readyz: $(cat "$out/readyz.json")"
curl -sf "http://127.0.0.1:$port/" | grep -qi "<html" || fail "no portal"
owner=$(in_root stat -c %U /tmp/kaasd-data/kaas.db 2>/dev/null || true)
[ "$owner" = kaas ] || fail "the database belongs to '$owner', not to the kaas user"
kill "$pid"; wait "$pid" 2>/dev/null || true; pid=

in_root apt-get purge -y -qq kaas >>"$out/apt.log" 2>&1 || { tail -20 "$out/apt.log"; exit 1; }
for f in /usr/bin/kaasd /usr/bin/kaas /usr/share/kaas/templates/ansible/bootstrap-master.yml; do
  [ ! -e "$root$f" ] || fail "$f is still there after purge"
done
echo "package installed, served and purged: $(basename "$deb"), $(du -h "$deb" | cut -f1)"
