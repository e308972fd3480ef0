# carepath — the two commands are `make run` and `make test`; everything else is detail.
SHELL := /bin/bash
PYTHON ?= python3.11
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed

.DEFAULT_GOAL := help
.PHONY: help setup run test unit contract integration e2e lint typecheck bench tail backtest pathway-doc clean

help:
	@echo "make run     start the embedded broker, all services and a live demo (Ctrl-C stops everything)"
	@echo "make test    lint, typecheck and the whole suite (unit, contract, integration, e2e)"
	@echo "make bench   throughput, latency percentiles and peak memory beside the raw broker ceiling"

$(STAMP): pyproject.toml requirements.lock
	@command -v $(PYTHON) >/dev/null || { echo "error: $(PYTHON) not found; install Python 3.11 or set PYTHON=" >&2; exit 1; }
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -c requirements.lock -e '.[dev]'
	touch $(STAMP)

setup: $(STAMP)

run: setup
	$(PY) -m carepath.demo

test: setup lint typecheck
	$(PY) -m pytest tests/unit tests/contract tests/integration tests/e2e

unit: setup
	$(PY) -m pytest tests/unit
contract: setup
	$(PY) -m pytest tests/contract
integration: setup
	$(PY) -m pytest tests/integration
e2e: setup
	$(PY) -m pytest tests/e2e

lint: setup
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .

typecheck: setup
	$(VENV)/bin/mypy

bench: setup
	$(PY) -m bench $(BENCH_ARGS)

tail: setup
	$(PY) -m carepath.tail $(TOPIC)

clean:
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache bench-results
