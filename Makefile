# dnssync — every target prints what it is doing.
SHELL := /bin/bash
NODE_BIN := node_modules/.bin
export PATH := $(CURDIR)/$(NODE_BIN):$(PATH)

.PHONY: all install build lint test controlplane demo bench clean

all: build

node_modules/.package-lock.json: package.json package-lock.json
	@echo "[install] npm ci"
	npm ci
	@touch $@

install: node_modules/.package-lock.json

build: install
	@echo "[build] tsc"
	$(NODE_BIN)/tsc -p tsconfig.json
	@# Tests that run dist/ check it is newer than every source (test/util/dist.ts).
	@touch dist/.build-stamp

lint: install
	@echo "[lint] eslint + tsc --noEmit"
	$(NODE_BIN)/eslint .
	$(NODE_BIN)/tsc -p tsconfig.json --noEmit

# Prints, as its last line, the directory holding etcd, kube-apiserver and helm.
controlplane:
	@bash test/controlplane/build.sh

# One kube-apiserver + etcd serve the whole run (vitest global setup); exits non-zero when
# the control plane cannot be found or built, or when any test fails.
test: build
	@echo "[test] control plane"
	@set -o pipefail; assets="$$(bash test/controlplane/build.sh | tail -n 1)" && \
	  echo "[test] vitest (control plane from $$assets)" && \
	  { KUBEBUILDER_ASSETS="$$assets" $(NODE_BIN)/vitest run --reporter=default --reporter=json --outputFile.json=dist/vitest-results.json; rc=$$?; \
	    $(NODE_BIN)/node -e 'const r = require("./dist/vitest-results.json"); console.log(`vitest: $${r.numPassedTests} passed, $${r.numFailedTests} failed`)' || true; \
	    exit $$rc; }

# Chaos (issue #12): each fault during a burst of changes — agent SIGKILL + restart in place,
# NAT, two leaders, a hostile peer, exhaustion, an RRset too large, leader SIGKILL, etcd +
# apiserver restart, 30% loss — then every agent compared record by record with the API
# objects; fails on any divergence. Its own private control plane and processes on
# 127.0.88.0/24; writes test/chaos/results/chaos.json and prints the table.
.PHONY: chaos
chaos: build
	@echo "[chaos] control plane"
	@set -o pipefail; assets="$$(bash test/controlplane/build.sh | tail -n 1)" && \
	  echo "[chaos] vitest (test/chaos)" && \
	  KUBEBUILDER_ASSETS="$$assets" $(NODE_BIN)/vitest run --config test/chaos/vitest.config.ts

# A control plane to use by hand (prints `export KUBECONFIG=...`); Ctrl-C stops it.
.PHONY: controlplane-up api-types
controlplane-up: build
	@set -o pipefail; assets="$$(bash test/controlplane/build.sh | tail -n 1)" && \
	  KUBEBUILDER_ASSETS="$$assets" node dist/test/controlplane/main.js

# src/api/types.ts is generated from crds/ (test/api/types.test.ts checks it is current).
api-types: install
	@echo "[api-types] crds/ -> src/api/types.ts"
	@node test/api/gen-api-types.ts

clean:
	rm -rf dist

# The Helm chart renders its CRDs from a copy of crds/ (Helm reads nothing outside the chart
# directory); test/deploy fails when the copy drifts. `make chart` refreshes it and lints.
.PHONY: chart-crds chart
chart-crds:
	@echo "[chart] copy crds/ into deploy/helm/dnssync/files/crds"
	@rm -f deploy/helm/dnssync/files/crds/*.yaml && cp crds/*.yaml deploy/helm/dnssync/files/crds/
chart: chart-crds
	@echo "[chart] helm lint --strict"
	@# Lint has no cluster to look the kube-dns Service up in: give its ClusterIP (as helm template needs).
	@"$$(bash test/controlplane/build.sh | tail -n 1)/helm" lint --strict deploy/helm/dnssync --set agent.kubeDNS.clusterIP=10.96.0.10

# Zone model: the cost of one change at 1,000 vs 100,000 records (writes test/bench/results/zone-apply.json).
.PHONY: bench-zone-apply
bench: bench-zone-apply
bench-zone-apply: build
	@echo "[bench] zone-apply: applying one-record diffs at 1,000 vs 100,000 records"
	$(NODE_BIN)/node --expose-gc dist/test/bench/zone-apply.js

# The README's first command: control plane, two leader-elected controllers, three agents on
# 127.0.100.1-3, deploy/examples applied; prints the KUBECONFIG and dig lines. Ctrl-C stops all.
demo: build
	@echo "[demo] local control plane, two controllers, three agents, deploy/examples"
	@$(NODE_BIN)/node dist/test/demo/demo.js

# The container image (needs a Docker engine; test/deploy/image.test.ts checks what it runs).
IMAGE ?= ghcr.io/dnssync/dnssync:$(shell sed -n 's/^  "version": "\(.*\)",/\1/p' package.json)
.PHONY: image
image:
	@echo "[image] docker build -t $(IMAGE) ."
	docker build -t $(IMAGE) .

# The same image without any container engine (umoci, skopeo, setcap; run as root): the
# Dockerfile's final stage rebuilt from the definitions it shares (deploy/image/), written as
# a docker archive for `ctr -n k8s.io images import` or `docker load`.
IMAGE_OCI ?= dist/image/dnssync.tar
.PHONY: image-oci
image-oci: install
	@echo "[image-oci] $(IMAGE) -> $(IMAGE_OCI)"
	@bash deploy/image/build-oci.sh $(IMAGE) $(IMAGE_OCI) >/dev/null

# Queries: dnsperf against the agent, unbound and dnsmasq on the same 10,000 records, same
# thread count (BENCH_THREADS, default 1), beside the agent with Node's V8 defaults and a
# Node UDP server doing no DNS work; plus agent RSS at 100,000 records (writes
# test/bench/results/query.json). 5 interleaved rounds of 3 s: p99 ratios on this shared
# 2-core machine need that many to settle (~7 minutes). BENCH_BASELINE=DIR adds the agent of
# another built tree (e.g. a worktree at an older commit) to the same rounds.
BENCH_THREADS ?= 1
BENCH_QUERY_ARGS ?= --seconds 15 --rounds 5
.PHONY: bench-query
bench: bench-query
bench-query: build
	@echo "[bench] query: dnsperf vs unbound and dnsmasq, $(BENCH_THREADS) server thread(s)"
	$(NODE_BIN)/node dist/test/bench/query.js --threads $(BENCH_THREADS) $(BENCH_QUERY_ARGS) $(if $(BENCH_BASELINE),--baseline $(BENCH_BASELINE))

# Push: zone change → every agent serving it, 1/10/100 agents, p50/p99, changes/s at 100
# agents, BIND as primary of the same agents beside it (writes test/bench/results/push.json).
.PHONY: bench-push
bench: bench-push
bench-push: build
	@echo "[bench] push: change → all agents, 1/10/100 agents, vs BIND NOTIFY+IXFR"
	$(NODE_BIN)/node dist/test/bench/push.js

# Propagation: API write → every agent answering, 1/10/100 agents, beside a bare watch (the
# floor), plus a sustained burst (writes test/bench/results/propagation.json).
.PHONY: bench-propagation
bench: bench-propagation
bench-propagation: build
	@echo "[bench] propagation: API write → all agents, 1/10/100 agents, vs a bare watch"
	$(NODE_BIN)/node dist/test/bench/propagation.js

# Scale: 100,000 records — controller heap, agent RSS, full sync, one change at 1k vs 100k,
# 1,000 changes/s to 100 agents (writes test/bench/results/scale.json).
.PHONY: bench-scale
bench: bench-scale
bench-scale: build
	@echo "[bench] scale: 100,000 records, one change at 1k vs 100k, 1,000 changes/s to 100 agents"
	$(NODE_BIN)/node --expose-gc dist/test/bench/scale.js

# Fleet: 100, 1,000 and 5,000 simulated agents (test/bench/fleet-sim.ts: real TSIG, NOTIFY/ACK,
# IXFR/AXFR; a serial and a record count per agent) against the leader in one process — cold
# start, lone changes, a sustained feed, a leader restart; leader CPU and memory apart from
# the fleet's (writes test/bench/results/fleet.json and fleet.svg).
.PHONY: bench-fleet
bench: bench-fleet
bench-fleet: build
	@echo "[bench] fleet: 100/1,000/5,000 simulated agents, lag, changes/s, leader CPU and memory, restart resync"
	$(NODE_BIN)/node --expose-gc dist/test/bench/fleet.js

# A real two-node Kubernetes cluster on this machine (kubelet + containerd in network
# namespaces, CoreDNS as kube-dns), built from the package registries; prints the KUBECONFIG
# line. `make cluster-down` (or Ctrl-C during bring-up) removes everything it made.
.PHONY: cluster cluster-down
cluster:
	@bash test/cluster/cluster.sh up
cluster-down:
	@bash test/cluster/cluster.sh down

# End-to-end: on the cluster of `make cluster` (started, or reused when up), the image built
# without an engine and imported into both nodes, then the vitest suite of test/e2e (its own
# config; `make test` never runs it) inside the cluster's network namespace, where the API
# server and the nodes are: helm install with default values, kdig from pods on both nodes.
.PHONY: e2e
e2e: build
	@bash test/cluster/cluster.sh up >/dev/null
	@$(MAKE) --no-print-directory image-oci
	@echo "[e2e] importing $(IMAGE_OCI) into both nodes"
	@bash test/cluster/cluster.sh load $(IMAGE_OCI)
	@echo "[e2e] vitest (test/e2e) in netns dnssync-cl"
	@rm -f /run/dnssync-cluster/logs/e2e-failure-*.txt
	@eval "$$(bash test/cluster/cluster.sh env)" && \
	  nsenter --net=/run/netns/dnssync-cl env KUBECONFIG="$$KUBECONFIG" \
	    KUBEBUILDER_ASSETS="$$(bash test/controlplane/build.sh | tail -n 1)" \
	    $(NODE_BIN)/vitest run --config test/e2e/vitest.config.ts
