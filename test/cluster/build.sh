#!/usr/bin/env bash
# Finds or builds the node side of the test cluster: kube-controller-manager, kube-scheduler,
# kubelet and kube-proxy, at the Kubernetes version test/controlplane/build.sh uses (that
# script supplies kube-apiserver, etcd, kubectl and helm; its cache is reused, not rebuilt).
# and the pod sandbox's pause process (test/cluster/pause). Last line of output: the
# directory that holds the five binaries.
#
# Built like kube-apiserver there: one wrapper Go module requiring k8s.io/kubernetes, its
# staging modules replaced by their published v0.x twins, cached outside the repository
# keyed by version, so a second run only checks the cache.
#
#   build.sh             find or build; progress on stderr, the directory on stdout
#   build.sh --no-build  only find: exit 3 when nothing is cached
set -euo pipefail
no_build=0
[ "${1:-}" = "--no-build" ] && no_build=1
. "$(dirname "$0")/../lib/gobuild.sh"

K8S_VERSION="${K8S_VERSION:-v1.35.4}"
here=$(cd "$(dirname "$0")" && pwd)
LABEL=cluster-build
OUT="$(gobuild_cache_root)/cluster/k8s-$K8S_VERSION"
BINS=(kube-controller-manager kube-scheduler kubelet kube-proxy)
ALL=("${BINS[@]}" pause)
step=0
total=$((${#BINS[@]} + 2))
progress() { step=$((step + 1)); echo "[cluster-build $step/$total] $*" >&2; }

have_all() {
  for b in "${ALL[@]}"; do [ -x "$OUT/$b" ] || return 1; done
}
gobuild_begin have_all "run make cluster" "to build the kubelet and friends"

progress "Kubernetes $K8S_VERSION: resolving staging modules (one wrapper module for all four)"
mkdir -p "$WORK/k8s"
cd "$WORK/k8s"
k8s_wrapper_module dnssync.local/cluster/k8s "$K8S_VERSION" "${BINS[@]}"
with_heartbeat "go mod tidy" go mod tidy
ld=$(k8s_ldflags "$K8S_VERSION")
for b in "${BINS[@]}"; do
  progress "$b $K8S_VERSION"
  build_bin "$b" "k8s.io/kubernetes/cmd/$b" "$ld"
done
progress "pause (the pod sandbox process, test/cluster/pause)"
if [ ! -x "$OUT/pause" ]; then
  mkdir -p "$WORK/pause" && cp "$here/pause/main.go" "$WORK/pause/"
  (cd "$WORK/pause" && printf 'module dnssync.local/cluster/pause\ngo 1.24\n' >go.mod && go build -trimpath -ldflags "-s -w" -o "$OUT/.pause.partial" .)
  mv "$OUT/.pause.partial" "$OUT/pause"
fi
have_all || { echo "cluster-build: build finished but binaries are missing in $OUT" >&2; exit 1; }
"$OUT/kubelet" --version >&2
echo "$OUT"
