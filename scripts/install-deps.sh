#!/usr/bin/env bash
# Installs the Debian 12 packages kaas builds and tests with; installs only what is missing.
# Uses sudo when not root. The list (and why each package is needed) is in README.md.
set -euo pipefail

PACKAGES=(
  build-essential cmake pkg-config ccache git python3 curl
  libvirt-dev libvirt0                 # hypervisors through the libvirt C API (test:/// driver)
  libsoci-dev libsqlite3-dev libpq-dev # store: SOCI over SQLite / PostgreSQL
  postgresql                           # the tests' throwaway PostgreSQL server (start-postgres.sh)
  libyaml-cpp-dev                      # config, inventories, kubeconfig
  libcpp-httplib-dev libbrotli-dev zlib1g-dev  # HTTP server and client (and what its .pc requires)
  libspdlog-dev libfmt-dev             # JSON-lines logging
  libboost-dev                         # Boost.Asio thread pool for the operation engine
  nlohmann-json3-dev                   # JSON
  libssl-dev openssl                   # OpenSSL (cpp-httplib TLS, PKI; `openssl verify` in tests)
  libsodium-dev                        # argon2id password hashes, random tokens, SHA-256
  libldap-dev                          # company-directory login: OpenLDAP's client library
  slapd ldap-utils                     # the tests' throwaway OpenLDAP server (start-ldap.sh)
  libgtest-dev libgmock-dev            # tests
  ansible-core                         # ansible-playbook: bootstrap runs and --syntax-check
  openssh-client                       # ssh for Ansible; ssh-keygen/ssh-keyscan: guests' host keys
  zstd                                 # node archives travel compressed (tasks/node-files.yml)
  chromium                             # the portal's browser tests (headless, via playwright-core)
  clang-format                         # the house format (.clang-format)
  clang-14 libclang-rt-14-dev          # the libFuzzer targets (fuzz/, scripts/fuzz.sh): clang, libFuzzer, ASan
  prometheus                           # the observability test's throwaway Prometheus + promtool
  systemd                              # systemd-analyze verify/security on deploy/systemd/kaasd.service
  iptables                             # iptables-restore --test of a VM's cluster-network rules
  debootstrap                          # the .deb installed into a scratch Debian root (and the guest image)
)

# `--vm`: also what the real-VM tests need (libvirtd + QEMU, the guest image builder; a static
# busybox for the test's own container image; Go, which builds Kubernetes, is on the machine).
if [ "${1:-}" = "--vm" ]; then
  PACKAGES+=(libvirt-daemon-system qemu-system-x86 qemu-utils genisoimage
             busybox-static)
fi

missing=()
for p in "${PACKAGES[@]}"; do
  [[ "$p" == \#* ]] && continue
  if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed"; then
    missing+=("$p")
  fi
done

# Node.js >= 20 and npm run the portal's browser tests. Machines that already have them (from
# NodeSource, say, whose nodejs bundles npm) keep theirs: Debian's npm would conflict with it.
if ! command -v node >/dev/null 2>&1; then missing+=(nodejs); fi
if ! command -v npm >/dev/null 2>&1; then missing+=(npm); fi
# kubectl reads the kubeconfigs kaas issues in the PKI and CLI tests. Machines with their own
# kubectl (e.g. from the Kubernetes release) keep it: Debian's kubernetes-client conflicts.
if ! command -v kubectl >/dev/null 2>&1; then missing+=(kubernetes-client); fi

if [ ${#missing[@]} -eq 0 ]; then
  echo "install-deps: all ${#PACKAGES[@]} packages present"
  exit 0
fi

SUDO=""
if [ "$(id -u)" -ne 0 ]; then SUDO="sudo"; fi
echo "install-deps: installing ${missing[*]}"
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update -qq
$SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}"
