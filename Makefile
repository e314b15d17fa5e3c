# Taskstream: one entry point for set-up, running, testing and benchmarks.
SHELL := /bin/bash
CACHE_DIR ?= $(or $(XDG_CACHE_HOME),$(HOME)/.cache)/taskstream
VENV ?= .venv
PY := $(VENV)/bin/python
STACK := $(PY) deploy/local/stack.py
TANTIVY := third_party/tantivy-py
export PIP_CACHE_DIR := $(CACHE_DIR)/pip

.PHONY: venv infra run test test-unit lint fmt bench soak down status

venv: $(VENV)/.installed

# The patched tantivy-py first (built once into the cache): pyproject.toml pins that build,
# which no index serves.
$(VENV)/.installed: pyproject.toml $(wildcard $(TANTIVY)/*.py $(TANTIVY)/*.toml $(TANTIVY)/patches/*)
	@echo "==> python venv in $(VENV) (pip cache $(PIP_CACHE_DIR))"
	@test -x $(PY) || python3 -m venv $(VENV)
	@$(PY) -m pip install --quiet --upgrade pip
	@$(PY) $(TANTIVY)/build.py --cache $(CACHE_DIR) --install >/dev/null
	@$(PY) -m pip install --quiet -e '.[dev]'
	@touch $@

infra: venv
	@$(STACK) install

run: venv
	@$(PY) deploy/local/run.py

test: venv
	@$(PY) deploy/local/testrun.py

soak: venv
	@SOAK_SECONDS=$${SOAK_SECONDS:-60} $(PY) deploy/local/testrun.py tests/integration/test_soak.py -m soak -s

test-unit: venv
	@$(PY) -m pytest services tests/unit -q

lint: venv
	@$(VENV)/bin/ruff check .
	@$(VENV)/bin/ruff format --check .
	@$(VENV)/bin/mypy .
	@$(MAKE) --no-print-directory deploy-check

fmt: venv
	@$(VENV)/bin/ruff format .
	@$(VENV)/bin/ruff check --fix .

bench: venv
	@$(PY) bench/run.py $(BENCH_ARGS)

status: venv
	@$(STACK) status

down: venv
	@$(STACK) down

# Validates the Dockerfile and the compose stack without a Docker engine: hadolint, Debian's
# docker-compose (installed on first use) resolving the files with the placeholder env file,
# promtool (unpacked from Debian's prometheus package into the cache, nothing installed) on the
# Prometheus config and alert rules, and the tests that compare them with the code.
SUDO := $(if $(filter 0,$(shell id -u)),,sudo)
COMPOSE_CHECK := docker-compose --env-file deploy/compose/.env.example -f deploy/compose/compose.yaml
PROMTOOL := $(CACHE_DIR)/promtool/usr/bin/promtool

$(PROMTOOL):
	@echo "==> promtool from Debian's prometheus package into $(CACHE_DIR)/promtool"
	@rm -rf $(CACHE_DIR)/promtool.tmp && mkdir -p $(CACHE_DIR)/promtool.tmp
	@cd $(CACHE_DIR)/promtool.tmp && { apt-get download prometheus >/dev/null 2>&1 \
		|| { $(SUDO) apt-get update -qq && apt-get download prometheus >/dev/null; }; }
	@dpkg-deb -x $(CACHE_DIR)/promtool.tmp/prometheus_*.deb $(CACHE_DIR)/promtool
	@rm -rf $(CACHE_DIR)/promtool.tmp

.PHONY: deploy-check
deploy-check: venv $(PROMTOOL)
	@command -v docker-compose >/dev/null || { echo "==> installing docker-compose (Debian)"; \
		$(SUDO) apt-get update -qq && $(SUDO) apt-get install -y -qq docker-compose >/dev/null; }
	@$(VENV)/bin/hadolint Dockerfile
	@$(PROMTOOL) check config --lint=all deploy/observability/prometheus/prometheus.yml >/dev/null
	@$(COMPOSE_CHECK) config --quiet
	@$(COMPOSE_CHECK) -f deploy/compose/compose.ops-ports.yaml config --quiet
	@$(PY) -m pytest tests/deploy -q -p no:cacheprovider
	@echo "deploy-check: Dockerfile, compose files and observability config are valid"
