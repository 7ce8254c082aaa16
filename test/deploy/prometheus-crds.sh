#!/usr/bin/env bash
# Finds or generates the Prometheus Operator's CustomResourceDefinitions (PrometheusRule,
# ServiceMonitor, …) as the operator's own release does: controller-gen run over the Go types
# of github.com/prometheus-operator/prometheus-operator/pkg/apis/monitoring, both taken from
# the Go module proxy at pinned versions. The chart's PrometheusRule is then sent to a real API
# server serving that CRD (test/deploy/prometheusrule.test.ts) — the schema a cluster with the
# operator has, not a stand-in. Cached outside the repository, keyed by the versions.
# Last line of output: the directory holding monitoring.coreos.com_<plural>.yaml.
#
#   prometheus-crds.sh             find or generate; progress on stderr, the directory on stdout
#   prometheus-crds.sh --no-build  only find: exit 3 when nothing is cached
set -euo pipefail
no_build=0
[ "${1:-}" = "--no-build" ] && no_build=1
. "$(dirname "$0")/../lib/gobuild.sh"

MONITORING_VERSION="${MONITORING_VERSION:-v0.95.2}"
CONTROLLER_TOOLS_VERSION="${CONTROLLER_TOOLS_VERSION:-v0.17.3}"
LABEL=prometheus-crds
OUT="$(gobuild_cache_root)/prometheus-crds/monitoring-$MONITORING_VERSION-controller-gen-$CONTROLLER_TOOLS_VERSION"
API=github.com/prometheus-operator/prometheus-operator/pkg/apis/monitoring

built() { [ -s "$OUT/monitoring.coreos.com_prometheusrules.yaml" ] && [ -s "$OUT/monitoring.coreos.com_servicemonitors.yaml" ]; }
gobuild_begin built "run bash test/deploy/prometheus-crds.sh" "(controller-gen is built from its module)"

echo "[prometheus-crds 1/3] modules: $API@$MONITORING_VERSION, sigs.k8s.io/controller-tools@$CONTROLLER_TOOLS_VERSION" >&2
cd "$WORK"
printf 'module dnssync.local/prometheus-crds\ngo 1.24\n' >go.mod
printf '//go:build tools\npackage tools\nimport (\n\t_ "%s/v1"\n\t_ "sigs.k8s.io/controller-tools/cmd/controller-gen"\n)\n' "$API" >tools.go
with_heartbeat "go get" go get "sigs.k8s.io/controller-tools/cmd/controller-gen@$CONTROLLER_TOOLS_VERSION" "$API@$MONITORING_VERSION"
echo "[prometheus-crds 2/3] building controller-gen" >&2
with_heartbeat "build controller-gen" go build -trimpath -o "$WORK/controller-gen" sigs.k8s.io/controller-tools/cmd/controller-gen
echo "[prometheus-crds 3/3] generating the CRDs from $API/v1" >&2
mkdir -p "$WORK/out"
"$WORK/controller-gen" crd:crdVersions=v1 "paths=$API/v1" "output:crd:dir=$WORK/out"
mkdir -p "$OUT"
for f in "$WORK"/out/*.yaml; do cp "$f" "$OUT/.$(basename "$f").partial" && mv "$OUT/.$(basename "$f").partial" "$OUT/$(basename "$f")"; done
built || { echo "prometheus-crds: controller-gen ran but $OUT lacks the PrometheusRule or ServiceMonitor CRD" >&2; exit 1; }
echo "$OUT"
