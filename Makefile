# Taskstream: one entry point for set-up, running, testing and benchmarks.
SHELL := /bin/bash
CACHE_DIR ?= $(or $(XDG_CACHE_HOME),$(HOME)/.cache)/taskstream
VENV ?= .venv
PY := $(VENV)/bin/python
STACK := $(PY) deploy/local/stack.py
TANTIVY := third_party/tantivy-py
export PIP_CACHE_DIR := $(CACHE_DIR)/pip
export npm_config_cache := $(CACHE_DIR)/npm

.PHONY: venv infra run test test-unit lint fmt bench soak test-kafka-cluster down status web web-api web-lint web-test chromium

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

run: venv web
	@$(PY) deploy/local/run.py

# Vitest first (no network), then the Python suites; tests/integration/test_web.py drives the
# built app in Debian's chromium through the gateway of the test stack.
test: venv web chromium
	@echo "==> web: vitest"
	@cd web && npx vitest run
	@$(PY) deploy/local/testrun.py

soak: venv
	@SOAK_SECONDS=$${SOAK_SECONDS:-60} $(PY) deploy/local/testrun.py tests/integration/test_soak.py -m soak -s

# A three-broker cluster (each broker in its own network namespace: root) and its fault tests
# under 100 writes/s; several minutes. Figures: .local/test-logs/kafka-cluster-results.jsonl.
test-kafka-cluster: venv
	@KAFKA_BROKERS=3 $(PY) deploy/local/testrun.py tests/integration/test_kafka_cluster.py -m kafka_cluster -s

test-unit: venv
	@$(PY) -m pytest services tests/unit -q

lint: venv
	@$(VENV)/bin/ruff check .
	@$(VENV)/bin/ruff format --check .
	@$(VENV)/bin/mypy .
	@$(MAKE) --no-print-directory web-lint
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
# Prometheus config and alert rules, every Kubernetes overlay rendered by `kubectl kustomize`
# and checked against the Kubernetes 1.32 schemas (kubernetes-validate --strict: core kinds;
# operator resources have no bundled schema), and the tests that compare them with the code.
SUDO := $(if $(filter 0,$(shell id -u)),,sudo)
COMPOSE_CHECK := docker-compose --env-file deploy/compose/.env.example -f deploy/compose/compose.yaml
PROMTOOL := $(CACHE_DIR)/promtool/usr/bin/promtool
K8S_OVERLAYS := $(wildcard deploy/k8s/overlays/*)
K8S_VERSION := 1.32.0

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
	@command -v kubectl >/dev/null || { echo "deploy-check needs kubectl (1.32+) for kustomize"; exit 1; }
	@set -o pipefail; for overlay in $(K8S_OVERLAYS); do \
		kubectl kustomize $$overlay | $(VENV)/bin/kubernetes-validate --kubernetes-version $(K8S_VERSION) \
			--strict --quiet --no-warn - || { echo "deploy-check: $$overlay is invalid"; exit 1; }; \
	done
	@$(PY) -m pytest tests/deploy -q -p no:cacheprovider
	@echo "deploy-check: Dockerfile, compose files, Kubernetes overlays and observability config are valid"

# The web app (web/): npm ci when the lock file changed, a Vite build when a source changed;
# both are skipped (and say so) otherwise. The gateway serves web/dist.
WEB_SOURCES := $(shell find web/src web/public -type f 2>/dev/null) web/index.html \
	web/vite.config.ts web/tsconfig.json web/tsconfig.app.json web/scripts/precompress.mjs

web/node_modules/.installed: web/package.json web/package-lock.json
	@echo "==> web: npm ci (cache $(npm_config_cache))"
	@cd web && npm ci --no-audit --no-fund --loglevel=error
	@touch $@

web/dist/index.html: web/node_modules/.installed $(WEB_SOURCES)
	@echo "==> web: building the app (tsc, vite, precompress)"
	@cd web && nice npm run --silent build
	@touch $@

web: web/dist/index.html
	@echo "==> web: web/dist ready (rebuilt only when a source changed)"

# The API types come from the gateway's merged OpenAPI document, written without a stack.
web-api: venv web/node_modules/.installed
	@$(PY) deploy/local/openapi_doc.py
	@cd web && npx openapi-typescript openapi.json -o src/lib/api/schema.d.ts

web-lint: venv web/node_modules/.installed
	@$(PY) deploy/local/openapi_doc.py --check
	@cd web && npx openapi-typescript openapi.json -o node_modules/.tmp/schema.d.ts >/dev/null 2>&1 \
		&& cmp -s node_modules/.tmp/schema.d.ts src/lib/api/schema.d.ts \
		|| { echo "web/src/lib/api/schema.d.ts is stale: run make web-api" >&2; exit 1; }
	@cd web && npx tsc -b && npx eslint . && npx prettier --check . >/dev/null
	@echo "web-lint: API types current, tsc, eslint and prettier clean"

chromium: web/node_modules/.installed
	@web/scripts/check-chromium.sh
