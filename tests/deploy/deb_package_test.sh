#!/usr/bin/env bash
# `make package`'s .deb (cmake/KaasPackage.cmake): built with cpack from this build tree,
# unpacked into a scratch root (dpkg-deb -x: the test machine is shared, so it is not installed
# with dpkg -i), its files in place, its control data sane, and the kaasd it holds answering
# --version and serving /readyz with the templates and portal of the package.
#   deb_package_test.sh BUILD_DIR SOURCE_DIR VERSION
set -euo pipefail
build=$1
source=$2
version=$3
out=$(mktemp -d)
pid=
cleanup() {
  if [ -n "$pid" ]; then kill "$pid" 2>/dev/null || true; wait "$pid" 2>/dev/null || true; fi
  rm -rf "$out"
}
trap cleanup EXIT

cpack -G DEB -B "$out" --config "$build/CPackConfig.cmake" >"$out/cpack.log" 2>&1 || {
  cat "$out/cpack.log"
  exit 1
}
deb=$(ls "$out"/kaas_"$version"_*.deb)
info=$(dpkg-deb -I "$deb")
for want in "Package: kaas" "Version: $version" "libvirt0" "libpq5" "ansible-core" "postinst"; do
  grep -q "$want" <<<"$info" || { echo "control lacks '$want':"; echo "$info"; exit 1; }
done
root=$out/root
dpkg-deb -x "$deb" "$root"
for f in usr/bin/kaasd usr/bin/kaas usr/lib/systemd/system/kaasd.service \
         usr/share/kaas/templates/ansible/bootstrap-master.yml \
         usr/share/kaas/templates/domain/test.xml usr/share/kaas/web/index.html \
         usr/share/doc/kaas/operations.md usr/share/doc/kaas/examples/replicas/kaasd.yaml; do
  [ -f "$root/$f" ] || { echo "missing /$f"; exit 1; }
done
cmp "$root/usr/lib/systemd/system/kaasd.service" "$source/deploy/systemd/kaasd.service"
dpkg-deb -e "$deb" "$out/control"
sh -n "$out/control/postinst"

[ "$("$root/usr/bin/kaasd" --version)" = "kaasd $version" ]
# The packaged kaasd on its packaged templates and portal: ready once ansible-playbook has
# syntax-checked the packaged playbooks.
port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
KAAS_ADMIN_PASSWORD=correct-horse-battery "$root/usr/bin/kaasd" --listen "127.0.0.1:$port" \
  --data-dir "$out/data" --templates-dir "$root/usr/share/kaas/templates" \
  --web-dir "$root/usr/share/kaas/web" --sim-hypervisors 1 >"$out/kaasd.log" 2>&1 &
pid=$!
for _ in $(seq 1 300); do
  if curl -sf "http://127.0.0.1:$port/readyz" >"$out/readyz.json"; then
    grep -q '"ansible":"ok"' "$out/readyz.json" || { cat "$out/readyz.json"; exit 1; }
    curl -sf "http://127.0.0.1:$port/" | grep -qi "<html" || { echo "no portal"; exit 1; }
    echo "package ok: $(basename "$deb"), $(du -h "$deb" | cut -f1)"
    exit 0
  fi
  kill -0 "$pid" 2>/dev/null || { cat "$out/kaasd.log"; exit 1; }
  sleep 0.2
done
cat "$out/kaasd.log"
echo "the packaged kaasd never became ready"
exit 1
