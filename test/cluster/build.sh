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

K8S_VERSION="${K8S_VERSION:-v1.35.4}"
here=$(cd "$(dirname "$0")" && pwd)
CACHE_ROOT="${DNSSYNC_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/dnssync}"
OUT="$CACHE_ROOT/cluster/k8s-$K8S_VERSION"
BINS=(kube-controller-manager kube-scheduler kubelet kube-proxy)
ALL=("${BINS[@]}" pause)
step=0
total=$((${#BINS[@]} + 2))
progress() { step=$((step + 1)); echo "[cluster-build $step/$total] $*" >&2; }

have_all() {
  for b in "${ALL[@]}"; do [ -x "$OUT/$b" ] || return 1; done
}
if have_all; then
  echo "[cluster-build] cached in $OUT" >&2
  echo "$OUT"
  exit 0
fi
if [ $no_build = 1 ]; then
  echo "[cluster-build] not built yet: run make cluster" >&2
  exit 3
fi
command -v go >/dev/null || { echo "cluster-build: go is required to build the kubelet and friends" >&2; exit 1; }
mkdir -p "$OUT"
# One build at a time per cache directory: a second caller waits, then finds the cache.
exec 9>"$OUT.lock"
if ! flock -n 9; then
  echo "[cluster-build] another build is running; waiting for it" >&2
  flock 9
  if have_all; then echo "$OUT"; exit 0; fi
fi
WORK=$(mktemp -d)
trap 'rm -rf "$WORK"; rm -f "$OUT"/.*.partial' EXIT
export GOFLAGS="${GOFLAGS:--buildvcs=false}" CGO_ENABLED=0

# A go command that prints a line every 10 s so a long, silent compile still shows life.
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

# Temporary name then rename: an interrupted build never leaves a binary the cache accepts.
build_bin() {
  local name=$1 pkg=$2 ldflags=$3
  if [ -x "$OUT/$name" ]; then echo "    $name: cached" >&2; return 0; fi
  with_heartbeat "build $name" go build -trimpath -ldflags "$ldflags" -o "$OUT/.$name.partial" "$pkg"
  mv "$OUT/.$name.partial" "$OUT/$name"
}

progress "Kubernetes $K8S_VERSION: resolving staging modules (one wrapper module for all four)"
minor=${K8S_VERSION#v1.}
staging_version="v0.$minor"
mkdir -p "$WORK/k8s"
cd "$WORK/k8s"
gomod=$(go mod download -json "k8s.io/kubernetes@$K8S_VERSION" | sed -n 's/.*"GoMod": "\(.*\)".*/\1/p')
{
  echo "module dnssync.local/cluster/k8s"
  echo "go 1.24"
  echo "require k8s.io/kubernetes $K8S_VERSION"
  grep -oE '^\s*k8s\.io/[a-z0-9-]+ => \./staging' "$gomod" | awk '{print $1}' | sort -u |
    while read -r m; do echo "replace $m => $m $staging_version"; done
} >go.mod
{
  echo 'package tools'
  echo 'import ('
  for b in "${BINS[@]}"; do echo "	_ \"k8s.io/kubernetes/cmd/$b\""; done
  echo ')'
} >tools.go
with_heartbeat "go mod tidy" go mod tidy
ldk="k8s.io/component-base/version"
ldc="k8s.io/client-go/pkg/version"
ld="-s -w"
for p in $ldk $ldc; do
  ld="$ld -X $p.gitVersion=$K8S_VERSION -X $p.gitMajor=1 -X $p.gitMinor=${minor%%.*} -X $p.gitTreeState=clean -X $p.buildDate=1970-01-01T00:00:00Z"
done
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
