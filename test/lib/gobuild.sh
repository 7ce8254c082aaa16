# Sourced by the scripts that find or build Go programs for the tests and benchmarks
# (test/controlplane/build.sh, test/cluster/build.sh, test/coredns/build.sh,
# test/deploy/prometheus-crds.sh): the cache location, the common start of a find-or-build
# script, one build at a time per cache directory, a heartbeat for long compiles, and the
# wrapper module that builds Kubernetes commands from k8s.io/kubernetes. The caller sets
# OUT (its cache directory) and LABEL (its name in progress lines) before using them.

# Where built binaries are kept, outside the repository.
gobuild_cache_root() {
  echo "${DNSSYNC_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/dnssync}"
}

# One build at a time per cache directory: a second caller waits for the first, then, when
# `check` (a command) finds the cache complete, prints OUT and exits. The lock stays held
# (fd 9) until the calling script exits.
gobuild_lock() {
  local check=$1
  mkdir -p "$OUT"
  exec 9>"$OUT.lock"
  if ! flock -n 9; then
    echo "[$LABEL] another build is running; waiting for it" >&2
    flock 9
    if "$check"; then echo "$OUT"; exit 0; fi
  fi
}

# The start every find-or-build script shares. `check` (a command) finds the cache complete:
# print OUT and exit 0. With --no-build (the caller's no_build=1): exit 3, saying `hint`.
# Otherwise go must be on PATH (`why`: what for), one build runs at a time (gobuild_lock),
# WORK is a scratch directory removed at exit with any half-written OUT/.*.partial, and
# builds from module zips get -buildvcs=false (they carry no VCS data) and no cgo.
gobuild_begin() {
  local check=$1 hint=$2 why=$3
  if "$check"; then
    echo "[$LABEL] cached in $OUT" >&2
    echo "$OUT"
    exit 0
  fi
  if [ "${no_build:-0}" = 1 ]; then
    echo "[$LABEL] not built yet: $hint" >&2
    exit 3
  fi
  command -v go >/dev/null || { echo "$LABEL: go is required $why" >&2; exit 1; }
  gobuild_lock "$check"
  WORK=$(mktemp -d)
  trap 'rm -rf "$WORK"; rm -f "$OUT"/.*.partial' EXIT
  export GOFLAGS="${GOFLAGS:--buildvcs=false}" CGO_ENABLED=0
}

# Runs a command (a go command), printing a line every 10 s so a long, silent compile still
# shows life, and how long it took.
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

# Builds `pkg` as OUT/name under a temporary name and renames it, so an interrupted build
# never leaves a half-written binary that the cache check would accept. Skips a binary
# already built.
build_bin() {
  local name=$1 pkg=$2 ldflags=$3
  if [ -x "$OUT/$name" ]; then echo "    $name: cached" >&2; return 0; fi
  with_heartbeat "build $name" go build -trimpath -ldflags "$ldflags" -o "$OUT/.$name.partial" "$pkg"
  mv "$OUT/.$name.partial" "$OUT/$name"
}

# In the current directory, a wrapper module `module` that requires k8s.io/kubernetes at
# `version` and imports the commands named after them (cmd/<name>); the caller then runs
# `go mod tidy` (the long download). k8s.io/kubernetes
# points its staging modules at ./staging; a consumer must replace each with its published
# v0.x twin. The list comes from that release's own go.mod.
k8s_wrapper_module() {
  local module=$1 version=$2; shift 2
  local staging_version="v0.${version#v1.}" gomod
  gomod=$(go mod download -json "k8s.io/kubernetes@$version" | sed -n 's/.*"GoMod": "\(.*\)".*/\1/p')
  {
    echo "module $module"
    echo "go 1.24"
    echo "require k8s.io/kubernetes $version"
    grep -oE '^\s*k8s\.io/[a-z0-9-]+ => \./staging' "$gomod" | awk '{print $1}' | sort -u |
      while read -r m; do echo "replace $m => $m $staging_version"; done
  } >go.mod
  {
    echo 'package tools'
    echo 'import ('
    for c in "$@"; do echo "	_ \"k8s.io/kubernetes/cmd/$c\""; done
    echo ')'
  } >tools.go
}

# The -ldflags that make a Kubernetes command report `version` as a release build would.
k8s_ldflags() {
  local version=$1 minor ld="-s -w" p
  minor=${version#v1.}
  for p in k8s.io/component-base/version k8s.io/client-go/pkg/version; do
    ld="$ld -X $p.gitVersion=$version -X $p.gitMajor=1 -X $p.gitMinor=${minor%%.*} -X $p.gitTreeState=clean -X $p.buildDate=1970-01-01T00:00:00Z"
  done
  echo "$ld"
}
