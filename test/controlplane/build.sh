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

K8S_VERSION="${K8S_VERSION:-v1.35.4}"
ETCD_VERSION="${ETCD_VERSION:-v3.6.16}"
HELM_VERSION="${HELM_VERSION:-v3.20.2}"
CACHE_ROOT="${DNSSYNC_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/dnssync}"
OUT="$CACHE_ROOT/controlplane/k8s-$K8S_VERSION-etcd-$ETCD_VERSION-helm-$HELM_VERSION"
BINS=(kube-apiserver etcd helm)

step=0
total=5
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

if have_all "$OUT" && [ -x "$OUT/kubectl" ]; then
  echo "[controlplane] cached in $OUT" >&2
  echo "$OUT"
  exit 0
fi
if [ $no_build = 1 ]; then
  if have_all "$OUT"; then echo "$OUT"; exit 0; fi
  echo "[controlplane] not built yet: run make controlplane" >&2
  exit 3
fi

command -v go >/dev/null || { echo "controlplane: go is required to build kube-apiserver, etcd and helm" >&2; exit 1; }
mkdir -p "$OUT"
# One build at a time per cache directory: a second caller waits, then finds the cache.
exec 9>"$OUT.lock"
if ! flock -n 9; then
  echo "[controlplane] another build is running; waiting for it" >&2
  flock 9
  if have_all "$OUT" && [ -x "$OUT/kubectl" ]; then echo "$OUT"; exit 0; fi
fi
WORK=$(mktemp -d)
trap 'rm -rf "$WORK"; rm -f "$OUT"/.*.partial' EXIT
# GOTOOLCHAIN is left to the machine's go env: a stock Go (GOTOOLCHAIN=auto) older than
# Kubernetes needs fetches the right toolchain through the module proxy; GOTOOLCHAIN=local
# fails with go's own message naming the version required.
export GOFLAGS="${GOFLAGS:--buildvcs=false}" CGO_ENABLED=0

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

# Builds into a temporary name and renames, so an interrupted build never leaves a
# half-written binary that the cache check would accept. Skips a binary already built.
build_bin() {
  local name=$1 pkg=$2 ldflags=$3
  if [ -x "$OUT/$name" ]; then echo "    $name: cached" >&2; return 0; fi
  with_heartbeat "build $name" go build -trimpath -ldflags "$ldflags" -o "$OUT/.$name.partial" "$pkg"
  mv "$OUT/.$name.partial" "$OUT/$name"
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
import (
	_ "k8s.io/kubernetes/cmd/kube-apiserver"
	_ "k8s.io/kubernetes/cmd/kubectl"
)' >tools.go
progress "kube-apiserver $K8S_VERSION: downloading modules and compiling (the long step)"
with_heartbeat "go mod tidy" go mod tidy
ldk="k8s.io/component-base/version"
ldc="k8s.io/client-go/pkg/version"
ld="-s -w"
for p in $ldk $ldc; do
  ld="$ld -X $p.gitVersion=$K8S_VERSION -X $p.gitMajor=1 -X $p.gitMinor=${minor%%.*} -X $p.gitTreeState=clean -X $p.buildDate=1970-01-01T00:00:00Z"
done
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
