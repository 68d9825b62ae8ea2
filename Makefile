# Alephdraad — every command a developer or CI needs. `make help` lists them.
SHELL := bash
.SHELLFLAGS := -eu -o pipefail -c
.DEFAULT_GOAL := help
MAKEFLAGS += --no-print-directory

ROOT := $(abspath $(dir $(lastword $(MAKEFILE_LIST))))
TOOLS := $(ROOT)/.tools
# The interpreter every virtual environment is built on (>= 3.11). uv never downloads one.
PYTHON ?= python3
UV_VERSION := 0.13.9
UV ?= $(or $(shell command -v uv 2>/dev/null),$(TOOLS)/bin/uv)
export UV_PYTHON_DOWNLOADS := never
export UV_PYTHON := $(PYTHON)
export UV_PROJECT_ENVIRONMENT :=
# Pact's core would report anonymous usage over the network; never from our tests.
export PACT_DO_NOT_TRACK := true

PROJECTS := contracts deploy/local core-service feature-service tests-e2e
STACK := $(ROOT)/deploy/local/.venv/bin/alephdraad-stack
PYTEST_ARGS ?=

.PHONY: help bootstrap sync run test test-contracts test-stack test-core test-feature test-e2e \
        lint format typecheck openapi pacts lock clean-stack

help: ## List the targets
	@awk 'BEGIN {FS = ":.*## "} /^[a-zA-Z0-9_-]+:.*## / {printf "  make %-16s %s\n", $$1, $$2}' $(MAKEFILE_LIST)

$(TOOLS)/bin/uv:
	@$(PYTHON) -c 'import sys; sys.exit(0 if sys.version_info >= (3, 11) else 1)' \
	  || { echo "Python >= 3.11 is needed; set PYTHON=/path/to/python3.11" >&2; exit 1; }
	@echo "bootstrap: installing uv $(UV_VERSION) into $(TOOLS)"
	@$(PYTHON) -m venv $(TOOLS)/venv
	@$(TOOLS)/venv/bin/python -m pip install --quiet --disable-pip-version-check "uv==$(UV_VERSION)"
	@mkdir -p $(TOOLS)/bin && ln -sf ../venv/bin/uv $(TOOLS)/bin/uv

bootstrap: $(UV) ## Install uv into .tools/ when it is not on PATH

sync: bootstrap ## Create every project's virtualenv from its lock file (uv sync --frozen)
	@for p in $(PROJECTS); do (cd $(ROOT)/$$p && $(UV) sync --frozen --quiet); done

lock: bootstrap ## Re-resolve every lock file after a pyproject.toml change
	@for p in $(PROJECTS); do (cd $(ROOT)/$$p && $(UV) lock --quiet); done

run: sync ## Start the whole system (data under .stack/); Ctrl-C stops it
	@$(STACK) run

test: sync test-contracts test-stack test-core test-feature test-e2e ## Run every test suite

test-contracts: ## contracts/ package tests (100% coverage, strict mypy)
	@cd contracts && $(UV) run --frozen --quiet mypy
	@cd contracts && $(UV) run --frozen --quiet pytest $(PYTEST_ARGS)

test-stack: ## Local-stack launcher tests (starts real servers)
	@cd deploy/local && $(UV) run --frozen --quiet pytest $(PYTEST_ARGS)

test-core: ## core-service tests against a real PostgreSQL
	@cd core-service && $(UV) run --frozen --quiet alephdraad-stack provide --postgres -- pytest $(PYTEST_ARGS)

test-feature: ## feature-service tests against a real MongoDB-compatible server
	@cd feature-service && $(UV) run --frozen --quiet alephdraad-stack provide --mongo -- pytest $(PYTEST_ARGS)

test-e2e: ## Whole-system tests through the gateway (stack started with --ephemeral)
	@cd tests-e2e && $(UV) run --frozen --quiet pytest $(PYTEST_ARGS)

lint: sync ## ruff lint + format check over everything, strict mypy on contracts, lock files current
	@for p in $(PROJECTS); do (cd $(ROOT)/$$p && $(UV) lock --check --quiet) \
	  || { echo "$$p/uv.lock is out of date: run make lock" >&2; exit 1; }; done
	@cd deploy/local && $(UV) run --frozen --quiet ruff check $(ROOT)
	@cd deploy/local && $(UV) run --frozen --quiet ruff format --check $(ROOT)
	@cd contracts && $(UV) run --frozen --quiet mypy

format: sync ## Apply ruff's fixes and formatting
	@cd deploy/local && $(UV) run --frozen --quiet ruff check --fix $(ROOT)
	@cd deploy/local && $(UV) run --frozen --quiet ruff format $(ROOT)

openapi: sync ## Regenerate contracts/openapi/*.json from the code
	@cd core-service && $(UV) run --frozen --quiet python -m alephdraad_core.openapi $(ROOT)/contracts/openapi/core.json
	@cd feature-service && $(UV) run --frozen --quiet python -m alephdraad_feature.openapi $(ROOT)/contracts/openapi/feature.json

pacts: sync ## Rewrite contracts/pacts/*.json from the consumer tests (then commit them)
	@cd core-service && UPDATE_PACTS=1 $(UV) run --frozen --quiet alephdraad-stack provide --postgres -- pytest -q tests/test_pact_consumer.py
	@cd feature-service && UPDATE_PACTS=1 $(UV) run --frozen --quiet alephdraad-stack provide --mongo -- pytest -q tests/test_pact_consumer.py

clean-stack: ## Delete .stack/ (all local data: databases, mail, logs, dev keys)
	@rm -rf $(ROOT)/.stack
