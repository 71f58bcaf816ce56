# NeuroEdge developer entry points. `make up` and `make test` work on a fresh machine: they create the
# virtualenv, install system packages they need (redis-server) and build the control-plane binaries once.
SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
PARTS := queue operator runtime dev
STAMP := $(VENV)/.installed-$(shell cat pyproject.toml $(foreach p,$(PARTS),$(p)/pyproject.toml) | sha1sum | cut -c1-12)
PYTEST_ARGS ?=

.PHONY: setup up down status env test lint typecheck unit integration bench scale clean

$(STAMP): pyproject.toml $(foreach p,$(PARTS),$(p)/pyproject.toml)
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -q --upgrade pip
	@# A checkout made before the split into parts has the old single distribution installed: drop it.
	@$(BIN)/python -m pip uninstall -q -y neuroedge 2>/dev/null || true
	$(BIN)/python -m pip install -q -e ./queue -e ./operator -e ./runtime -e './dev[test]'
	@rm -f $(VENV)/.installed-* && touch $(STAMP)

setup: $(STAMP)
	$(BIN)/neuroedge dev install $(if $(LLM),--llm,) $(if $(TESTS),--tests,)

# The stack, the CRDs, the operator, the samples (Ready), the runtime API and a worker per sample pool.
up: setup
	$(BIN)/neuroedge dev up --crds crds --sample crds/examples/tenant.yaml $(if $(LLM),--llm,)

down: $(STAMP)
	$(BIN)/neuroedge dev down

status: $(STAMP)
	$(BIN)/neuroedge dev status

env: $(STAMP)
	@$(BIN)/neuroedge dev env

SOURCES := queue/src operator/src runtime/src dev/src tests bench

# Style and the declared layers (import-linter contracts in pyproject.toml); no server is started.
lint: $(STAMP)
	$(BIN)/ruff check $(SOURCES)
	$(BIN)/ruff format --check $(SOURCES)
	$(BIN)/lint-imports

typecheck: $(STAMP)
	$(BIN)/mypy

# Unit tests start no server and need no control plane, so they run without `make setup`'s build.
unit: $(STAMP)
	$(BIN)/pytest tests/unit $(PYTEST_ARGS)

# `make test`'s setup also builds what only the suite runs (helm, promtool, Jaeger, llama-server), before pytest
# starts: pytest bounds each test, its fixtures included, by 300 s, and a cold llama.cpp build takes ~11 min.
test: TESTS := 1
test: setup lint typecheck
	$(BIN)/pytest $(PYTEST_ARGS)

bench: setup
	$(BIN)/python bench/run.py

# The operator at scale (issue 16): 100, then 1,000 Tenants and WorkerPools; many minutes.
scale: setup
	$(BIN)/python bench/run.py operator_scale

clean: down
	rm -rf $(VENV) .neuroedge .pytest_cache .mypy_cache .ruff_cache
