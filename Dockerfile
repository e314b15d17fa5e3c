# One image for all four services; SERVICE picks which one runs (see docs/operations.md).
# Build from the repository root:  docker build -t taskstream .

# --- tantivy: tantivy-py with the patches in third_party/tantivy-py/ (why: each patch's header) ---
FROM rust:1.95-slim-bookworm AS tantivy

# The sdist's rust-toolchain.toml asks for "stable"; build with the image's own toolchain.
ENV RUSTUP_TOOLCHAIN=1.95.0

# hadolint ignore=DL3008
RUN apt-get update \
    && apt-get install -y --no-install-recommends git python3-venv \
    && rm -rf /var/lib/apt/lists/*
WORKDIR /build
COPY third_party/tantivy-py/ ./
# The same script as `make venv`: checksummed sdist, patches, profile, wheel into /wheels.
RUN python3 -m venv /opt/pip \
    && PIP_NO_CACHE_DIR=1 /opt/pip/bin/python build.py --wheel-dir /wheels

# --- web: the browser app built once; only its dist/ reaches the runtime image ---
FROM node:20.20-bookworm-slim AS web
WORKDIR /web
COPY web/package.json web/package-lock.json ./
RUN npm ci --no-audit --no-fund --loglevel=error
COPY web/ ./
RUN npm run build

# --- build: dependencies into a self-contained virtualenv, sources byte-compiled ---
FROM python:3.11-slim-bookworm AS build

ENV PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1

RUN python -m venv /opt/venv
ENV PATH=/opt/venv/bin:$PATH

WORKDIR /app
# Dependencies first, from pyproject.toml's list, so a code-only change reuses this layer.
# pyproject.toml pins our tantivy-py build, which only the tantivy stage's folder holds.
COPY pyproject.toml ./
COPY --from=tantivy /wheels /wheels
RUN python -c "import tomllib; print('\n'.join(tomllib.load(open('pyproject.toml', 'rb'))['project']['dependencies']))" > requirements.txt \
    && pip install --find-links /wheels --requirement requirements.txt \
    && rm -r pyproject.toml requirements.txt /wheels

# Sources are run from /app (not installed) so data files such as auth's password list come along.
COPY shared ./shared
COPY services ./services
# The default flag file (FLAGS_FILE); deployments mount their own directory over it.
COPY deploy/flags ./deploy/flags
RUN python -m compileall -q /app /opt/venv/lib

# --- runtime: the virtualenv and the sources only; no pip cache, compilers or build files ---
FROM python:3.11-slim-bookworm AS runtime

ENV PATH=/opt/venv/bin:$PATH \
    PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    SERVICE=gateway \
    AUTH_KEYS_DIR=/data/auth-keys \
    SEARCH_INDEX_DIR=/data/search-index

RUN groupadd --system --gid 10001 taskstream \
    && useradd --system --uid 10001 --gid 10001 --no-create-home --shell /usr/sbin/nologin taskstream \
    && mkdir -p /data/auth-keys /data/search-index \
    && chown -R 10001:10001 /data \
    && chmod 0700 /data/auth-keys

# Code stays owned by root: the service user can read it but not change it.
COPY --from=build /opt/venv /opt/venv
COPY --from=build /app /app
# The gateway serves it (GATEWAY_WEB_DIST_DIR defaults to /app/web/dist).
COPY --from=web /web/dist /app/web/dist

USER 10001:10001
WORKDIR /app
EXPOSE 8000

# /health is liveness only; dependencies are /ready's business (compose waits on it).
HEALTHCHECK --interval=10s --timeout=3s --start-period=20s --retries=3 \
    CMD ["python", "-c", "import urllib.request; urllib.request.urlopen('http://127.0.0.1:8000/health', timeout=2)"]

# Every service listens on 8000 inside its own container. `exec` makes uvicorn PID 1, so the
# engine's SIGTERM reaches it and shutdown is graceful. Keep-alive 75 s (nginx's default):
# uvicorn's 5 s races clients whose idle expiry is also 5 s (httpx). No Server banner.
CMD ["sh", "-c", "exec uvicorn --factory \"services.${SERVICE}.app.main:create_app\" --host 0.0.0.0 --port 8000 --no-access-log --no-server-header --timeout-graceful-shutdown 10 --timeout-keep-alive 75"]
