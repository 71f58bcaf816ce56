# NeuroEdge developer entry points. `make up` and `make test` work on a fresh machine: they create the
# virtualenv, install system packages they need (redis-server) and build the control-plane binaries once.
SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed-$(shell cat pyproject.toml | sha1sum | cut -c1-12)
PYTEST_ARGS ?=

.PHONY: setup up down status env test lint typecheck unit integration bench clean

$(STAMP): pyproject.toml
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -q --upgrade pip
	$(BIN)/python -m pip install -q -e '.[dev]'
	@rm -f $(VENV)/.installed-* && touch $(STAMP)

setup: $(STAMP)
	$(BIN)/neuroedge dev install $(if $(LLM),--llm,)

# The stack, the CRDs, the operator, the samples (Ready), the runtime API and a worker per sample pool.
up: setup
	$(BIN)/neuroedge dev up --crds crds --sample crds/examples/tenant.yaml $(if $(LLM),--llm,)

down: $(STAMP)
	$(BIN)/neuroedge dev down

status: $(STAMP)
	$(BIN)/neuroedge dev status

env: $(STAMP)
	@$(BIN)/neuroedge dev env

lint: $(STAMP)
	$(BIN)/ruff check operator/src runtime/src tests bench
	$(BIN)/ruff format --check operator/src runtime/src tests bench

typecheck: $(STAMP)
	$(BIN)/mypy

unit: $(STAMP)
	$(BIN)/pytest tests/unit $(PYTEST_ARGS)

test: setup lint typecheck
	$(BIN)/pytest $(PYTEST_ARGS)

bench: setup
	$(BIN)/python bench/run.py

clean: down
	rm -rf $(VENV) .neuroedge .pytest_cache .mypy_cache .ruff_cache
