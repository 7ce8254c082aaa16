#!/usr/bin/env bash
# Finds or builds the test control plane: kube-apiserver, etcd and helm.
# Last line of output: the directory that holds the three binaries.
#
# KUBEBUILDER_ASSETS wins when it holds all three (as controller-runtime's envtest does).
# Otherwise they are built from the Go module proxy at pinned versions and cached outside
# the repository, keyed by those versions, so a second run only checks the cache. kubectl
# of the same version is built beside them (envtest ships one too); tests prefer it to the
# kubectl on PATH, so client and server versions match.
#
#   build.sh             find or build; progress on stderr, the directory on stdout
#   build.sh --no-build  only find: exit 3 when nothing is cached (used by the test harness)
set -euo pipefail
no_build=0
[ "${1:-}" = "--no-build" ] && no_build=1
. "$(dirname "$0")/../lib/gobuild.sh"

K8S_VERSION="${K8S_VERSION:-v1.35.4}"
ETCD_VERSION="${ETCD_VERSION:-v3.6.16}"
HELM_VERSION="${HELM_VERSION:-v3.20.2}"
LABEL=controlplane
OUT="$(gobuild_cache_root)/controlplane/k8s-$K8S_VERSION-etcd-$ETCD_VERSION-helm-$HELM_VERSION"
BINS=(kube-apiserver etcd helm)

step=0
total=5
progress() { step=$((step + 1)); echo "[controlplane $step/$total] $*" >&2; }

have_all() {
  local dir=$1
  for b in "${BINS[@]}"; do [ -x "$dir/$b" ] || return 1; done
}
complete() { have_all "$OUT" && [ -x "$OUT/kubectl" ]; }

if [ -n "${KUBEBUILDER_ASSETS:-}" ] && have_all "$KUBEBUILDER_ASSETS"; then
  echo "[controlplane] using KUBEBUILDER_ASSETS=$KUBEBUILDER_ASSETS" >&2
  echo "$KUBEBUILDER_ASSETS"
  exit 0
fi

# The test harness (--no-build) runs without kubectl: the three binaries are enough.
if [ $no_build = 1 ] && ! complete && have_all "$OUT"; then echo "$OUT"; exit 0; fi
# GOTOOLCHAIN is left to the machine's go env: a stock Go (GOTOOLCHAIN=auto) older than
# Kubernetes needs fetches the right toolchain through the module proxy; GOTOOLCHAIN=local
# fails with go's own message naming the version required.
gobuild_begin complete "run make controlplane" "to build kube-apiserver, etcd and helm"

progress "kube-apiserver $K8S_VERSION: resolving staging modules"
mkdir -p "$WORK/k8s"
cd "$WORK/k8s"
k8s_wrapper_module dnssync.local/controlplane/k8s "$K8S_VERSION" kube-apiserver kubectl
progress "kube-apiserver $K8S_VERSION: downloading modules and compiling (the long step)"
with_heartbeat "go mod tidy" go mod tidy
ld=$(k8s_ldflags "$K8S_VERSION")
build_bin kube-apiserver k8s.io/kubernetes/cmd/kube-apiserver "$ld"
progress "kubectl $K8S_VERSION (same modules, so mostly compiling)"
build_bin kubectl k8s.io/kubernetes/cmd/kubectl "$ld"

progress "etcd $ETCD_VERSION"
mkdir -p "$WORK/etcd" && cd "$WORK/etcd"
printf 'module dnssync.local/controlplane/etcd\ngo 1.24\nrequire go.etcd.io/etcd/server/v3 %s\n' "$ETCD_VERSION" >go.mod
echo 'package tools
import _ "go.etcd.io/etcd/server/v3"' >tools.go
with_heartbeat "go mod tidy" go mod tidy
build_bin etcd go.etcd.io/etcd/server/v3 "-s -w"

progress "helm $HELM_VERSION"
mkdir -p "$WORK/helm" && cd "$WORK/helm"
printf 'module dnssync.local/controlplane/helm\ngo 1.24\nrequire helm.sh/helm/v3 %s\n' "$HELM_VERSION" >go.mod
echo 'package tools
import _ "helm.sh/helm/v3/cmd/helm"' >tools.go
with_heartbeat "go mod tidy" go mod tidy
build_bin helm helm.sh/helm/v3/cmd/helm "-s -w -X helm.sh/helm/v3/internal/version.version=$HELM_VERSION"

have_all "$OUT" || { echo "controlplane: build finished but binaries are missing in $OUT" >&2; exit 1; }
"$OUT/kube-apiserver" --version >&2
"$OUT/etcd" --version | head -1 >&2
"$OUT/helm" version --short >&2
"$OUT/kubectl" version --client 2>/dev/null | head -1 >&2
echo "$OUT"
