#!/usr/bin/env bash
# Finds or builds CoreDNS, the server NodeLocal DNSCache and kube-dns run, for the query
# benchmark (the peer we are measured against) and for the test cluster's kube-dns.
# Last line of output: the directory that holds the `coredns` binary.
#
# Built from the Go module github.com/coredns/coredns at a pinned version through the Go
# module proxy, with that release's own go.mod and go.sum (`go install module@version`, the
# way a release is reproduced) and its default plugin set (plugin.cfg: cache, forward, file,
# hosts, kubernetes, health, ready, prometheus, errors, log, loop, reload, loadbalance, …).
# Cached outside the repository keyed by the version, so a second run only checks the cache.
#
#   build.sh             find or build; progress on stderr, the directory on stdout
#   build.sh --no-build  only find: exit 3 when nothing is cached
#
# COREDNS_BIN, when it names an executable, wins (a CoreDNS built elsewhere).
set -euo pipefail
no_build=0
[ "${1:-}" = "--no-build" ] && no_build=1
. "$(dirname "$0")/../lib/gobuild.sh"

COREDNS_VERSION="${COREDNS_VERSION:-v1.15.0}"
LABEL=coredns
OUT="$(gobuild_cache_root)/coredns/coredns-$COREDNS_VERSION"

if [ -n "${COREDNS_BIN:-}" ] && [ -x "$COREDNS_BIN" ]; then
  echo "[coredns] using COREDNS_BIN=$COREDNS_BIN" >&2
  dirname "$COREDNS_BIN"
  exit 0
fi

built() { [ -x "$OUT/coredns" ]; }
# GOTOOLCHAIN is left to the machine's go env: CoreDNS v1.15.0 needs go >= 1.26.0; an older
# local Go fails with go's own message naming the version required.
gobuild_begin built "run bash test/coredns/build.sh" "to build CoreDNS"

echo "[coredns 1/2] downloading github.com/coredns/coredns@$COREDNS_VERSION and its modules" >&2
# Installs into a scratch GOBIN and renames, so an interrupted build never leaves a
# half-written binary that the cache check would accept. GitCommit is what `coredns -version`
# prints after the version; the module zip carries no VCS data, so name the version there.
cd "$WORK"
with_heartbeat "go mod download" go mod download "github.com/coredns/coredns@$COREDNS_VERSION"
echo "[coredns 2/2] compiling (a few minutes on a busy machine)" >&2
with_heartbeat "go install coredns" env GOBIN="$WORK/bin" go install -trimpath \
  -ldflags "-s -w -X github.com/coredns/coredns/coremain.GitCommit=$COREDNS_VERSION" \
  "github.com/coredns/coredns@$COREDNS_VERSION"
# The plugins the benchmark's Corefile and the cluster's kube-dns use; checked before the
# binary enters the cache, so a build without them is never accepted.
plugins=$("$WORK/bin/coredns" -plugins)
for p in cache forward file hosts kubernetes health ready prometheus errors log loop reload loadbalance; do
  grep -qx "$p" <<<"$plugins" || { echo "coredns: plugin $p missing from the build" >&2; exit 1; }
done
mv "$WORK/bin/coredns" "$OUT/.coredns.partial"
mv "$OUT/.coredns.partial" "$OUT/coredns"
"$OUT/coredns" -version >&2
echo "$OUT"
