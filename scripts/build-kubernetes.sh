#!/usr/bin/env bash
# Builds Kubernetes' binaries from source, from the Go module proxy, the way an organisation's
# mirror would hold them for kaas to copy to its nodes:
#
#   scripts/build-kubernetes.sh VERSION [VERSION...]   e.g. 1.35.4
#     -> $KAAS_K8S_CACHE/v<VERSION>/{kube-apiserver,kube-controller-manager,kube-scheduler,
#                                    kubelet,kubeadm,kubectl,SHA256SUMS}
#
# KAAS_K8S_CACHE defaults to /var/cache/kaas/kubernetes (outside the checkout, so CI and later
# runs reuse it). A version whose folder has SHA256SUMS is reused as is. Needs Go (>= the version
# k8s.io/kubernetes' go.mod names) and GOPROXY reachable. KAAS_K8S_BINARIES overrides the list.
#
# How: k8s.io/kubernetes' own go.mod replaces its staging modules (k8s.io/api, k8s.io/apiserver,
# ...) with ./staging/... folders that its published module zip does not contain. A small module
# of ours requires k8s.io/kubernetes at VERSION and pins every one of those staging modules to
# the matching published v0.<minor>.<patch> instead. Version information is stamped with the
# same -ldflags the Kubernetes release uses (kubeadm compares it with the control plane's).
set -euo pipefail
[ $# -ge 1 ] || { echo "usage: build-kubernetes.sh VERSION [VERSION...]" >&2; exit 2; }
CACHE=${KAAS_K8S_CACHE:-/var/cache/kaas/kubernetes}
BINARIES=${KAAS_K8S_BINARIES:-kube-apiserver kube-controller-manager kube-scheduler kubelet kubeadm kubectl}
export PATH=$PATH:/usr/local/go/bin
export CGO_ENABLED=0 GOFLAGS=${GOFLAGS:--mod=mod} GOTOOLCHAIN=${GOTOOLCHAIN:-local}
command -v go >/dev/null || { echo "build-kubernetes: no go command (install Go)" >&2; exit 1; }

build_one() {
  local version=${1#v}
  local dest="$CACHE/v$version"
  if [ -f "$dest/SHA256SUMS" ]; then
    echo "build-kubernetes: v$version cached in $dest" >&2
    return 0
  fi
  local minor=${version#*.}; minor=${minor%%.*}
  local patch=${version##*.}
  local work
  work=$(mktemp -d)
  trap 'rm -rf "$work"' RETURN
  local t0
  t0=$(date +%s)
  (
    cd "$work"
    go mod init kaas.local/kubernetes-build >/dev/null 2>&1
    # k8s.io/kubernetes' go.mod: its staging modules are the ones it replaces with ./staging.
    local gomod
    gomod=$(go mod download -json "k8s.io/kubernetes@v$version" | sed -n 's/^\t"GoMod": "\(.*\)",$/\1/p')
    [ -f "$gomod" ] || { echo "build-kubernetes: k8s.io/kubernetes@v$version not served" >&2; exit 1; }
    local goversion
    goversion=$(sed -n 's/^go \([0-9.]*\)$/\1/p' "$gomod")
    go mod edit -go="$goversion" -require="k8s.io/kubernetes@v$version"
    sed -n 's#^[[:space:]]*\(k8s.io/[a-z0-9-]*\) => ./staging/.*#\1#p' "$gomod" | sort -u |
      while read -r module; do
        go mod edit -replace="$module=$module@v0.$minor.$patch"
      done
    # The rest of kubernetes' own replace lines (pins of third-party modules) apply as well.
    sed -n 's#^[[:space:]]*\([^ ]*\) => \([^.][^ ]*\) \(v[^ ]*\)$#\1=\2@\3#p' "$gomod" |
      while read -r r; do go mod edit -replace="$r"; done
    local pkgs=()
    for b in $BINARIES; do pkgs+=("k8s.io/kubernetes/cmd/$b@v$version"); done
    go get "${pkgs[@]}" >&2
    local now
    now=$(date -u +%Y-%m-%dT%H:%M:%SZ)
    local ldflags=""
    for p in k8s.io/component-base/version k8s.io/client-go/pkg/version; do
      ldflags+=" -X $p.gitVersion=v$version -X $p.gitMajor=1 -X $p.gitMinor=$minor"
      ldflags+=" -X $p.gitTreeState=clean -X $p.buildDate=$now"
    done
    mkdir -p "$dest.partial"
    for b in $BINARIES; do
      local tb
      tb=$(date +%s)
      go build -trimpath -ldflags="-s -w $ldflags" -o "$dest.partial/$b" "k8s.io/kubernetes/cmd/$b"
      echo "build-kubernetes: v$version $b built in $(($(date +%s) - tb)) s" >&2
    done
    (cd "$dest.partial" && sha256sum $BINARIES > SHA256SUMS)
  )
  rm -rf "$dest" && mv "$dest.partial" "$dest"
  echo "build-kubernetes: v$version built in $(($(date +%s) - t0)) s -> $dest" >&2
}

mkdir -p "$CACHE"
for v in "$@"; do build_one "$v"; done
