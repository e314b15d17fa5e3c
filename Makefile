# Taskstream: one entry point for set-up, running, testing and benchmarks.
SHELL := /bin/bash
CACHE_DIR ?= $(or $(XDG_CACHE_HOME),$(HOME)/.cache)/taskstream
VENV ?= .venv
PY := $(VENV)/bin/python
STACK := $(PY) deploy/local/stack.py
export PIP_CACHE_DIR := $(CACHE_DIR)/pip

.PHONY: venv infra run test test-unit test-integration lint fmt bench down status

venv: $(VENV)/.installed

$(VENV)/.installed: pyproject.toml
	@echo "==> python venv in $(VENV) (pip cache $(PIP_CACHE_DIR))"
	@test -x $(PY) || python3 -m venv $(VENV)
	@$(PY) -m pip install --quiet --upgrade pip
	@$(PY) -m pip install --quiet -e '.[dev]'
	@touch $@

infra: venv
	@$(STACK) install

run: venv
	@$(PY) deploy/local/run.py

test: venv
	@$(PY) deploy/local/testrun.py

test-unit: venv
	@$(PY) -m pytest services -q

lint: venv
	@$(VENV)/bin/ruff check .
	@$(VENV)/bin/ruff format --check .
	@$(VENV)/bin/mypy .

fmt: venv
	@$(VENV)/bin/ruff format .
	@$(VENV)/bin/ruff check --fix .

bench: venv
	@$(PY) bench/run.py $(BENCH_ARGS)

status: venv
	@$(STACK) status

down: venv
	@$(STACK) down
