# carepath — the two commands are `make run` and `make test`; everything else is detail.
SHELL := /bin/bash
PYTHON ?= python3.11
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed

.DEFAULT_GOAL := help
.PHONY: help setup clean-compiled lock audit sbom capacity sysdeps oidc-provider asyncapi-parser asyncapi k8s-check k8s-generate run test unit contract integration e2e lint typecheck bench chaos tail backtest pathway-doc clean fuzz

help:
	@echo "make run     start the embedded broker, all services and a live demo (Ctrl-C stops everything)"
	@echo "make test    lint, typecheck and the whole suite (unit, contract, integration, e2e)"
	@echo "make bench   throughput, latency percentiles and peak memory beside the raw broker ceiling"
	@echo "make fuzz    10,000 malformed and mutated inputs at a real intake: no 5xx, crash, hang or bad input accepted"

# Every dependency is pinned with its hashes in requirements/ and installed with hash checking:
# build.lock (pip and the build backend), runtime.lock (what the images ship), dev.lock (runtime pins plus
# the dev tools and the embedded broker of the `demo` extra), checkov.lock (make k8s-check's own virtualenv).
# `make lock` writes them from pyproject.toml, keeping every pin it can.
#
# The triage and followup cores and carepath.murmur2 are compiled with mypyc as the project installs
# (setup.py, README "The compiled core"), again whenever their sources change; where there is no C
# compiler they run as Python, and the build says so.
CORE_SOURCES := $(shell find services/triage/triage/core services/followup/followup/core -name '*.py') \
	services/triage/triage/batch.py services/followup/followup/batch.py lib/carepath/compiled.py \
	lib/carepath/murmur2.py
CAREPATH_COMPILE_CORE ?= $(if $(shell command -v cc 2>/dev/null),1,0)
export CAREPATH_COMPILE_CORE

$(STAMP): pyproject.toml setup.py requirements/build.lock requirements/dev.lock $(CORE_SOURCES)
	@command -v $(PYTHON) >/dev/null || { echo "error: $(PYTHON) not found; install Python 3.11 or set PYTHON=" >&2; exit 1; }
	test -x $(PY) || $(PYTHON) -m venv $(VENV) || { \
	  [ "$$(id -u)" = 0 ] && apt-get update -qq && apt-get install -y -qq python3-venv >/dev/null && $(PYTHON) -m venv $(VENV); }
	$(PY) -m pip install --quiet --require-hashes -r requirements/build.lock
	$(PY) -m pip install --quiet --require-hashes --no-deps -r requirements/dev.lock
	@[ "$(CAREPATH_COMPILE_CORE)" != 0 ] || echo "note: CAREPATH_COMPILE_CORE=0 (so set, or no C compiler cc found): the cores run as Python"
	@[ "$(CAREPATH_COMPILE_CORE)" != 0 ] || $(MAKE) --no-print-directory clean-compiled
	$(PY) -m pip install --quiet --no-deps --no-build-isolation -e .
	$(PY) -m pip check
	touch $(STAMP)

setup: $(STAMP)

# promtool (Debian's prometheus package) checks the alert rules and config; kcat is the operator's
# raw topic tool; Debian's chromium drives the worklist page's browser tests (Playwright is pointed at
# /usr/bin/chromium: no browser is downloaded); node runs the OpenID Connect provider its login tests
# sign in with. Installed once when missing (as root, via apt-get).
SYSDEPS := promtool:prometheus kcat:kcat chromium:chromium node:nodejs npm:npm
sysdeps:
	@missing=""; for pair in $(SYSDEPS); do \
	  command -v "$${pair%%:*}" >/dev/null || missing="$$missing $${pair##*:}"; \
	done; \
	if [ -n "$$missing" ]; then \
	  if [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null; then \
	    echo "installing Debian packages:$$missing"; \
	    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $$missing >/dev/null; \
	  else \
	    echo "error: these Debian packages are needed: sudo apt-get install$$missing" >&2; exit 1; \
	  fi; \
	fi

# The OpenID Connect provider the worklist's login tests start (panva/oidc-provider, pinned by its lockfile).
OIDC_DIR := tests/support/oidc
OIDC_STAMP := $(OIDC_DIR)/node_modules/.installed
$(OIDC_STAMP): $(OIDC_DIR)/package.json $(OIDC_DIR)/package-lock.json
	npm ci --prefix $(OIDC_DIR) --no-audit --no-fund --loglevel=error
	touch $@

oidc-provider: $(OIDC_STAMP)

# The AsyncAPI Initiative's parser (@asyncapi/parser, pinned by its lockfile): tests/contract/test_asyncapi.py
# validates schemas/asyncapi.yaml with it. `make asyncapi` writes that file again from schemas/.
ASYNCAPI_DIR := tests/support/asyncapi
ASYNCAPI_STAMP := $(ASYNCAPI_DIR)/node_modules/.installed
$(ASYNCAPI_STAMP): $(ASYNCAPI_DIR)/package.json $(ASYNCAPI_DIR)/package-lock.json
	npm ci --prefix $(ASYNCAPI_DIR) --no-audit --no-fund --loglevel=error
	touch $@

asyncapi-parser: $(ASYNCAPI_STAMP)

asyncapi: setup
	$(PY) -m tools.asyncapi

# Kubernetes manifests (deploy/k8s/, README "Running at scale"), checked without a cluster: the generated
# parts equal their sources, `kubectl kustomize` renders every overlay, every object is valid for the stated
# Kubernetes version (kubernetes-validate; the operators' kinds by the CRD schemas in deploy/k8s/schemas/),
# and checkov finds nothing it fails. checkov lives in a virtualenv of its own (.venv/checkov/,
# requirements/checkov.lock): its pins conflict with the project's. kubectl: Debian's kubectl package from
# https://pkgs.k8s.io, or the static binary https://dl.k8s.io/release/v1.33.0/bin/linux/amd64/kubectl.
KUBECTL ?= kubectl
CHECKOV_VENV := $(VENV)/checkov
CHECKOV_STAMP := $(CHECKOV_VENV)/.installed
$(CHECKOV_STAMP): requirements/checkov.lock | $(STAMP)
	test -x $(CHECKOV_VENV)/bin/python || $(PYTHON) -m venv $(CHECKOV_VENV)
	$(CHECKOV_VENV)/bin/python -m pip install --quiet --require-hashes -r requirements/checkov.lock
	touch $@

k8s-check: setup $(CHECKOV_STAMP)
	@command -v $(KUBECTL) >/dev/null || { echo "error: kubectl not found: install it (https://kubernetes.io/docs/tasks/tools/install-kubectl-linux/: apt-get install kubectl from pkgs.k8s.io, or the static binary into /usr/local/bin), or set KUBECTL=" >&2; exit 1; }
	$(PY) -m tools.k8s.check --kubectl $(KUBECTL) --checkov $(CHECKOV_VENV)/bin/checkov

k8s-generate: setup
	$(PY) -m tools.k8s.generate

LOCK_FLAGS := --generate-hashes --python-platform x86_64-manylinux_2_28 --no-header --quiet
lock: setup
	$(VENV)/bin/uv pip compile pyproject.toml --extra dev --extra demo --python-version 3.11 $(LOCK_FLAGS) -o requirements/dev.lock
	$(VENV)/bin/uv pip compile pyproject.toml -c requirements/dev.lock --python-version 3.11 $(LOCK_FLAGS) -o requirements/runtime.lock
	$(VENV)/bin/uv pip compile requirements/build.in -c requirements/dev.lock --python-version 3.11 $(LOCK_FLAGS) -o requirements/build.lock
	$(VENV)/bin/uv pip compile requirements/checkov.in --python-version 3.11.5 $(LOCK_FLAGS) -o requirements/checkov.lock

# Known vulnerabilities (pip-audit, against PyPI's advisory data) in every pin of requirements/runtime.lock.
# Fails on a finding; where the advisory source cannot be reached it says so and does not fail.
audit: setup
	$(PY) -m tools.supply_chain audit

# The runtime image's CycloneDX SBOM: the image's virtualenv is built the way the Dockerfile builds it (the
# runtime lock with hash checking, then the project) in .venv/runtime/, and cyclonedx-py describes it.
SBOM ?= sbom/carepath-runtime.cdx.json
sbom: setup
	$(PY) -m tools.supply_chain sbom --python $(PYTHON) --out $(SBOM)

run: setup
	$(PY) -m carepath_tools.demo

# The suite on TEST_WORKERS processes (pytest-xdist), a test file's tests together in one of them, each
# with a broker of its own. The longest files are handed out first (e2e, then integration), so the
# thousands of short unit tests fill in at the end. Two on two cores: three finish sooner on an idle
# machine (pytest 700 s against 836 s) but beside two CPU burners their processes miss start-up and
# test timeouts (an identity provider not up in 20 s, the demo not done in 180 s), where two pass. On a
# shared KAFKA_BOOTSTRAP_SERVERS the tests would share topics and consumer groups, so they run one at a
# time there.
TEST_WORKERS ?= $(if $(KAFKA_BOOTSTRAP_SERVERS),0,2)
PYTEST_PARALLEL = -n $(TEST_WORKERS) --dist loadfile --no-loadscope-reorder

test: setup sysdeps oidc-provider asyncapi-parser lint typecheck k8s-check audit
	$(PY) -m pytest $(PYTEST_PARALLEL) tests/e2e tests/integration tests/conformance tests/contract tests/unit

unit: setup
	$(PY) -m pytest tests/unit
contract: setup $(CHECKOV_STAMP) $(ASYNCAPI_STAMP)
	$(PY) -m pytest tests/contract tests/conformance
integration: setup oidc-provider
	$(PY) -m pytest tests/integration
e2e: setup
	$(PY) -m pytest tests/e2e

lint: setup
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .

typecheck: setup
	$(VENV)/bin/mypy

bench: setup
	$(PY) -m carepath_tools.bench $(BENCH_ARGS)

# The capacity model: the conformance corpus measured (events per patient-day, state and event bytes), with
# the make bench figures and the stated population, for one hospital and a region (README "Capacity model").
capacity: setup
	$(PY) -m tools.capacity $(CAPACITY_ARGS)

# SIGKILL and restart workers at random under a steady feed, then the same feed fault-free; compared by
# escalation and reminder id and by deliveries at the webhook. Exit status 1 when a promise is broken.
chaos: setup
	$(PY) -m carepath_tools.chaos --events 10000 --patients 1000 --kills 20 $(CHAOS_ARGS)

# Fuzzing of intake (JSON events, FHIR, HL7 v2 over MLLP, schemathesis from its OpenAPI) on a real intake
# and an embedded broker: 10,000 inputs, stopped after 5 minutes at most; fails on any 5xx, exit, hang,
# refusal without a reason, missing dead letter or malformed input accepted.
fuzz: setup
	$(PY) -m carepath_tools.fuzz --inputs $${FUZZ_INPUTS:-10000} --seed $${FUZZ_SEED:-1} --time-limit 300

# The triage core over the demo feed, no broker: per-rule alert counts and alert burden.
backtest: setup
	$(PY) -m carepath_tools.demo --export .run/demo-feed.jsonl
	$(PY) -m triage.backtest .run/demo-feed.jsonl

# The pathway rendered for clinical sign-off (docs/pathway/); a contract test keeps it current.
pathway-doc: setup
	$(PY) -m triage.pathway_doc --out docs/pathway/red-flags.md
	$(PY) -m followup.pathway_doc --out docs/pathway/follow-up.md

tail: setup
	$(PY) -m carepath.tail $(TOPIC)

clean: clean-compiled
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache bench-results .run

# The compiled modules (the sources then run as Python until the next `make setup`, which compiles them
# again: the setup stamp goes with them).
clean-compiled:
	find services lib -name '*.so' -delete
	rm -rf build services/*/*/core/compiled-from.sha256 lib/carepath/*.compiled-from.sha256 $(STAMP)
