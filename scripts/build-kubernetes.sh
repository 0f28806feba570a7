#!/usr/bin/env bash
# Builds Kubernetes' binaries from source, from the Go module proxy, the way an organisation's
# mirror would hold them for kaas to copy to its nodes:
#
#   scripts/build-kubernetes.sh VERSION [VERSION...]   e.g. 1.36.3
#     -> $KAAS_K8S_CACHE/v<VERSION>/
#          kube-apiserver kube-controller-manager kube-scheduler kubelet kubeadm kubectl
#          containerd containerd-shim-runc-v2 ctr      (the container runtime: Kubernetes 1.36
#                                                      and later need containerd 2; Debian 12
#                                                      has 1.6. Built once, linked per version)
#          images/{kube-apiserver,kube-controller-manager,kube-scheduler,pause}.tar
#                                                     (no registry is reachable: the control
#                                                      plane's static pods and every pod's
#                                                      sandbox run images made here, imported
#                                                      on the nodes; see docs/kubernetes.md)
#          SHA256SUMS                                 (of everything above; written last)
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
#
#   scripts/build-kubernetes.sh --default-and-next
#     the catalog's default version and the newest patch of the next minor
#     (lifecycle/kubernetes-versions.txt): what the real-VM test creates and upgrades to.
set -euo pipefail
[ $# -ge 1 ] || { echo "usage: build-kubernetes.sh VERSION [VERSION...] | --default-and-next" >&2; exit 2; }
CACHE=${KAAS_K8S_CACHE:-/var/cache/kaas/kubernetes}
BINARIES=${KAAS_K8S_BINARIES:-kube-apiserver kube-controller-manager kube-scheduler kubelet kubeadm kubectl}
CONTAINERD_VERSION=${KAAS_CONTAINERD_VERSION:-2.2.10}
CONTAINERD_BINARIES="containerd containerd-shim-runc-v2 ctr"
# The control plane images (kubeadm's static pods) and the pod sandbox image are named as kubeadm
# names them under this repository (templates/kubeadm/init-config.yaml: imageRepository).
IMAGE_REPOSITORY=registry.kaas.internal
HERE=$(cd "$(dirname "$0")" && pwd)
export PATH=$PATH:/usr/local/go/bin
export CGO_ENABLED=0 GOFLAGS=${GOFLAGS:--mod=mod} GOTOOLCHAIN=${GOTOOLCHAIN:-local}
command -v go >/dev/null || { echo "build-kubernetes: no go command (install Go)" >&2; exit 1; }

build_one() {
  local version=${1#v}
  local dest="$CACHE/v$version"
  if [ -f "$dest/SHA256SUMS" ] && grep -q ' images/pause.tar$' "$dest/SHA256SUMS"; then
    echo "build-kubernetes: v$version cached in $dest" >&2
    return 0
  fi
  if [ -f "$dest/SHA256SUMS" ]; then  # the binaries of an older layout: add what it lacks
    rm -rf "$dest.partial" && mv "$dest" "$dest.partial"
    finish_version "$version" "$dest"
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
      [ -x "$dest.partial/$b" ] && continue  # an interrupted build's finished binaries
      local tb
      tb=$(date +%s)
      go build -trimpath -ldflags="-s -w $ldflags" -o "$dest.partial/$b" "k8s.io/kubernetes/cmd/$b"
      echo "build-kubernetes: v$version $b built in $(($(date +%s) - tb)) s" >&2
    done
  )
  finish_version "$version" "$dest"
  echo "build-kubernetes: v$version built in $(($(date +%s) - t0)) s -> $dest" >&2
}

# containerd 2 from the Go module proxy (static: CGO_ENABLED=0 leaves out btrfs, which needs
# cgo). runc and the CNI plugins come from Debian on the nodes.
build_containerd() {
  local dest="$CACHE/containerd-v$CONTAINERD_VERSION"
  [ -f "$dest/SHA256SUMS" ] && return 0
  local t0 work
  t0=$(date +%s)
  work=$(mktemp -d)
  mkdir -p "$dest.partial"
  (
    cd "$work"
    go mod init kaas.local/containerd-build >/dev/null 2>&1
    go get "github.com/containerd/containerd/v2@v$CONTAINERD_VERSION" >&2
    local p=github.com/containerd/containerd/v2
    for b in $CONTAINERD_BINARIES; do
      go build -trimpath -ldflags="-s -w -X $p/version.Version=v$CONTAINERD_VERSION" \
        -o "$dest.partial/$b" "$p/cmd/$b"
    done
    (cd "$dest.partial" && sha256sum $CONTAINERD_BINARIES > SHA256SUMS)
  )
  rm -rf "$work" "$dest" && mv "$dest.partial" "$dest"
  echo "build-kubernetes: containerd v$CONTAINERD_VERSION built in $(($(date +%s) - t0)) s" >&2
}

# The images and the runtime next to a version's binaries, then SHA256SUMS (last: it marks the
# folder complete).
finish_version() {
  local version=$1 dest=$2
  local part="$dest.partial"
  build_containerd
  for b in $CONTAINERD_BINARIES; do
    ln -f "$CACHE/containerd-v$CONTAINERD_VERSION/$b" "$part/$b"
  done
  # kubeadm's own pin of the sandbox image for this version.
  local pause_version
  pause_version=$(sed -n 's/^[[:space:]]*PauseVersion = "\(.*\)"$/\1/p' \
    "$(go env GOMODCACHE)/k8s.io/kubernetes@v$version/cmd/kubeadm/app/constants/constants.go")
  [ -n "$pause_version" ] || { echo "build-kubernetes: no PauseVersion in kubeadm v$version" >&2; exit 1; }
  mkdir -p "$part/images"
  local work
  work=$(mktemp -d)
  gcc -static -O2 -o "$work/pause" "$HERE/images/pause.c"
  python3 "$HERE/images/make-image.py" "$part/images/pause.tar" \
    "$IMAGE_REPOSITORY/pause:$pause_version" --entrypoint /pause --file "$work/pause:/pause"
  rm -rf "$work"
  for b in kube-apiserver kube-controller-manager kube-scheduler; do
    python3 "$HERE/images/make-image.py" "$part/images/$b.tar" "$IMAGE_REPOSITORY/$b:v$version" \
      --entrypoint "/usr/local/bin/$b" --file "$part/$b:/usr/local/bin/$b"
  done
  echo "$pause_version" > "$part/images/pause.version"
  (cd "$part" && sha256sum $BINARIES $CONTAINERD_BINARIES images/*.tar images/pause.version > SHA256SUMS)
  rm -rf "$dest" && mv "$part" "$dest"
}

if [ "$1" = --default-and-next ]; then
  catalog="$HERE/../lifecycle/kubernetes-versions.txt"
  default=$(awk '$2 == "default" { print $1 }' "$catalog")
  next_minor=$(( $(cut -d. -f2 <<<"$default") + 1 ))
  next=$(awk -v m="1.$next_minor." 'index($1, m) == 1 { print $1 }' "$catalog" | sort -t. -k3,3n | tail -1)
  [ -n "$default" ] && [ -n "$next" ] || { echo "build-kubernetes: no default and next minor in $catalog" >&2; exit 1; }
  set -- "$default" "$next"
fi

mkdir -p "$CACHE"
# One build at a time per cache (a second caller waits, then finds the versions cached).
exec 9>"$CACHE/.lock"
flock 9
for v in "$@"; do build_one "$v"; done
