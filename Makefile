# exitplan: `make plan` (offline plan + parity of every stack) and `make test` (the suite).
# Both bootstrap what they need: uv (via pip when missing) and a uv-managed .venv.
SHELL := /bin/bash
.SHELLFLAGS := -eu -o pipefail -c
.DEFAULT_GOAL := help

PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
UV := $(shell command -v uv 2>/dev/null || echo "$(PYTHON) -m uv")
# Never let uv download an interpreter (no network but the package registries); compile
# bytecode at install so the Pulumi SDKs import fast even where PYTHONDONTWRITEBYTECODE is set.
export UV_PYTHON_DOWNLOADS := never
export UV_COMPILE_BYTECODE := 1
# Wheel folders pip is configured with (PIP_FIND_LINKS, `pip config`), handed to uv, which
# does not read pip's configuration: a local CPU build of torch is found there, not a CUDA one.
FIND_LINKS := $(shell { echo "$${PIP_FIND_LINKS:-}"; $(PYTHON) -m pip config list 2>/dev/null \
	| sed -n "s/^[^=]*find-links='\(.*\)'$$/\1/p"; } | tr ' ' '\n' | sort -u | sed '/^$$/d')
export UV_FIND_LINKS := $(subst $(eval) ,$(comma),$(strip $(FIND_LINKS)))
comma := ,

.PHONY: help bootstrap plan test lint bench clean
help:
	@echo "make plan       offline plan and parity of every stack (the main job for now)"
	@echo "make test       lint, types and the whole test suite"
	@echo "make bench      benchmarks -> bench/results/*.json"
	@echo "make bootstrap  install uv if missing and create .venv from uv.lock (idempotent)"

bootstrap: $(VENV)/.bootstrapped

$(VENV)/.bootstrapped: pyproject.toml uv.lock
	@if ! command -v uv >/dev/null 2>&1 && ! $(PYTHON) -m uv --version >/dev/null 2>&1; then \
		echo "bootstrap: installing uv with pip"; \
		$(PYTHON) -m pip install --quiet uv; \
	fi
	@if [ -n "$(UV_FIND_LINKS)" ]; then echo "bootstrap: extra wheel locations for uv: $(UV_FIND_LINKS)"; fi
	$(UV) sync --frozen --python $(PYTHON)
	@touch $@

plan: bootstrap
	@for stack in $$($(BIN)/exitplan stacks list --json | $(BIN)/python -c \
		'import json,sys; print(" ".join(s["stack"] for s in json.load(sys.stdin)))'); do \
		$(BIN)/exitplan plan $$stack; \
	done
	$(BIN)/exitplan stacks list
	$(BIN)/exitplan parity

lint: bootstrap
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy

test: lint
	$(BIN)/pytest -q -n 2

bench: bootstrap
	$(BIN)/python bench/plan.py

clean:
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache
