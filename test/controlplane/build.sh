#!/usr/bin/env bash
# Finds or builds the test control plane: kube-apiserver, etcd and helm.
# Last line of output: the directory that holds the three binaries.
#
# KUBEBUILDER_ASSETS wins when it holds all three (as controller-runtime's envtest does).
# Otherwise they are built from the Go module proxy at pinned versions and cached outside
# the repository, keyed by those versions, so a second run only checks the cache.
set -euo pipefail

K8S_VERSION="${K8S_VERSION:-v1.35.4}"
ETCD_VERSION="${ETCD_VERSION:-v3.6.16}"
HELM_VERSION="${HELM_VERSION:-v3.20.2}"
CACHE_ROOT="${DNSSYNC_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/dnssync}"
OUT="$CACHE_ROOT/controlplane/k8s-$K8S_VERSION-etcd-$ETCD_VERSION-helm-$HELM_VERSION"
BINS=(kube-apiserver etcd helm)

step=0
total=4
progress() { step=$((step + 1)); echo "[controlplane $step/$total] $*" >&2; }

have_all() {
  local dir=$1
  for b in "${BINS[@]}"; do [ -x "$dir/$b" ] || return 1; done
}

if [ -n "${KUBEBUILDER_ASSETS:-}" ] && have_all "$KUBEBUILDER_ASSETS"; then
  echo "[controlplane] using KUBEBUILDER_ASSETS=$KUBEBUILDER_ASSETS" >&2
  echo "$KUBEBUILDER_ASSETS"
  exit 0
fi

if have_all "$OUT"; then
  echo "[controlplane] cached in $OUT" >&2
  echo "$OUT"
  exit 0
fi

command -v go >/dev/null || { echo "controlplane: go is required to build kube-apiserver, etcd and helm" >&2; exit 1; }
mkdir -p "$OUT"
WORK=$(mktemp -d)
trap 'rm -rf "$WORK"' EXIT
export GOFLAGS="${GOFLAGS:--buildvcs=false}" CGO_ENABLED=0 GOTOOLCHAIN=local

# A go command that prints a dot every 10 s so a long, silent compile still shows life.
with_heartbeat() {
  local label=$1; shift
  local start=$SECONDS
  "$@" &
  local pid=$!
  while kill -0 "$pid" 2>/dev/null; do
    for _ in $(seq 1 20); do kill -0 "$pid" 2>/dev/null || break; sleep 0.5; done
    kill -0 "$pid" 2>/dev/null && echo "    $label: still working ($((SECONDS - start)) s)" >&2
  done
  wait "$pid"
  echo "    $label: done in $((SECONDS - start)) s" >&2
}

# k8s.io/kubernetes points its staging modules at ./staging; a consumer must replace each
# with its published v0.x twin. The list comes from that release's own go.mod.
progress "kube-apiserver $K8S_VERSION: resolving staging modules"
minor=${K8S_VERSION#v1.}
staging_version="v0.$minor"
mkdir -p "$WORK/k8s"
cd "$WORK/k8s"
gomod=$(go mod download -json "k8s.io/kubernetes@$K8S_VERSION" | sed -n 's/.*"GoMod": "\(.*\)".*/\1/p')
{
  echo "module dnssync.local/controlplane/k8s"
  echo "go 1.24"
  echo "require k8s.io/kubernetes $K8S_VERSION"
  grep -oE '^\s*k8s\.io/[a-z0-9-]+ => \./staging' "$gomod" | awk '{print $1}' | sort -u |
    while read -r m; do echo "replace $m => $m $staging_version"; done
} >go.mod
echo 'package tools
import _ "k8s.io/kubernetes/cmd/kube-apiserver"' >tools.go
progress "kube-apiserver $K8S_VERSION: downloading modules and compiling (the long step)"
with_heartbeat "go mod tidy" go mod tidy
ldk="k8s.io/component-base/version"
ldc="k8s.io/client-go/pkg/version"
ld="-s -w"
for p in $ldk $ldc; do
  ld="$ld -X $p.gitVersion=$K8S_VERSION -X $p.gitMajor=1 -X $p.gitMinor=${minor%%.*} -X $p.gitTreeState=clean -X $p.buildDate=1970-01-01T00:00:00Z"
done
with_heartbeat "build kube-apiserver" go build -trimpath -ldflags "$ld" -o "$OUT/kube-apiserver" k8s.io/kubernetes/cmd/kube-apiserver

progress "etcd $ETCD_VERSION"
mkdir -p "$WORK/etcd" && cd "$WORK/etcd"
printf 'module dnssync.local/controlplane/etcd\ngo 1.24\nrequire go.etcd.io/etcd/server/v3 %s\n' "$ETCD_VERSION" >go.mod
echo 'package tools
import _ "go.etcd.io/etcd/server/v3"' >tools.go
with_heartbeat "go mod tidy" go mod tidy
with_heartbeat "build etcd" go build -trimpath -ldflags "-s -w" -o "$OUT/etcd" go.etcd.io/etcd/server/v3

progress "helm $HELM_VERSION"
mkdir -p "$WORK/helm" && cd "$WORK/helm"
printf 'module dnssync.local/controlplane/helm\ngo 1.24\nrequire helm.sh/helm/v3 %s\n' "$HELM_VERSION" >go.mod
echo 'package tools
import _ "helm.sh/helm/v3/cmd/helm"' >tools.go
with_heartbeat "go mod tidy" go mod tidy
with_heartbeat "build helm" go build -trimpath -ldflags "-s -w -X helm.sh/helm/v3/internal/version.version=$HELM_VERSION" -o "$OUT/helm" helm.sh/helm/v3/cmd/helm

have_all "$OUT" || { echo "controlplane: build finished but binaries are missing in $OUT" >&2; exit 1; }
"$OUT/kube-apiserver" --version >&2
"$OUT/etcd" --version | head -1 >&2
"$OUT/helm" version --short >&2
echo "$OUT"
