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

lint: install
	@echo "[lint] eslint + tsc --noEmit"
	$(NODE_BIN)/eslint .
	$(NODE_BIN)/tsc -p tsconfig.json --noEmit

# Prints, as its last line, the directory holding etcd, kube-apiserver and helm.
controlplane:
	@bash test/controlplane/build.sh

test: build
	@echo "[test] control plane"
	@export KUBEBUILDER_ASSETS="$$(bash test/controlplane/build.sh | tail -n 1)" && \
	  echo "[test] vitest (control plane from $$KUBEBUILDER_ASSETS)" && \
	  $(NODE_BIN)/vitest run

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
	@"$$(bash test/controlplane/build.sh | tail -n 1)/helm" lint --strict deploy/helm/dnssync
