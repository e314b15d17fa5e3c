"""The logs of this session's processes: structured, correlated, free of secrets.

Named to sort last so it sees the lines every other test of the session produced.
"""

import asyncio
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import orjson
import pytest

from deploy.local.services import ServiceProcess
from tests.integration.harness import System
from tests.integration.helpers import new_account
from tests.integration.secrets_registry import (
    LOG_OFFSETS_AT_START,
    RETIRED_PROCESSES,
    SESSION_SECRETS,
    gateway_client,
)

pytestmark = pytest.mark.integration
REQUIRED_FIELDS = ("service", "level", "request_id", "trace_id")
BUSY_SYSTEM_GRACE_S = 90.0


def session_processes(system: System) -> list[ServiceProcess]:
    return [proc for procs in system.processes.values() for proc in procs] + RETIRED_PROCESSES


def session_log(path: Path) -> str:
    """What this session appended to ``path`` (earlier sessions may have used the same port)."""
    with path.open("rb") as log:
        log.seek(LOG_OFFSETS_AT_START.get(path, 0))
        return log.read().decode("utf-8", errors="replace")


def session_lines(system: System) -> Iterator[tuple[Path, str]]:
    paths = {proc.log_path for proc in session_processes(system)}
    for path in sorted(paths):
        # Split on newlines only: a JSON string may hold U+2028 or U+0085 unescaped.
        for line in session_log(path).split("\n"):
            if line.strip():
                yield path, line


def parsed(line: str) -> dict[str, Any] | None:
    try:
        entry = orjson.loads(line)
    except orjson.JSONDecodeError:
        return None
    return entry if isinstance(entry, dict) else None


def test_every_line_is_structured_json(system: System) -> None:
    bad = []
    for path, line in session_lines(system):
        entry = parsed(line)
        if entry is None or any(field not in entry for field in REQUIRED_FIELDS):
            bad.append(f"{path.name}: {line[:300]}")
    assert not bad, f"{len(bad)} unstructured log lines, first ones:\n" + "\n".join(bad[:10])


async def answered_request(client: httpx.AsyncClient) -> tuple[str, httpx.Response]:
    """A request that auth and tasks answered.

    Earlier tests (the soak) can leave the services draining a backlog for a while; this test is
    about logs, so it waits for a settled system rather than failing on its availability.
    """
    deadline = time.monotonic() + BUSY_SYSTEM_GRACE_S
    while True:
        request_id = f"logcheck-{uuid.uuid4().hex}"
        try:
            account = await new_account(client)
            headers = {**account.headers, "X-Request-ID": request_id}
            response = await client.get("/api/v1/tasks", headers=headers)
            assert response.status_code == 200, response.text
        except AssertionError:
            if time.monotonic() > deadline:
                raise
            await asyncio.sleep(2.0)
        else:
            return request_id, response


async def test_request_id_reaches_the_upstream_service_logs(system: System) -> None:
    async with gateway_client(system) as client:
        request_id, response = await answered_request(client)
    assert response.headers["x-request-id"] == request_id
    service_of = {proc.log_path: proc.name for proc in session_processes(system)}

    def services_that_logged_it() -> set[str]:
        return {
            service_of[path]
            for path, line in session_lines(system)
            if (parsed(line) or {}).get("request_id") == request_id
        }

    for _ in range(30):
        if {"gateway", "tasks"} <= services_that_logged_it():
            break
        await asyncio.sleep(0.1)
    assert {"gateway", "tasks"} <= services_that_logged_it()


def test_no_secret_of_this_session_is_logged(system: System) -> None:
    secrets = {*SESSION_SECRETS, system.env["INTERNAL_SIGNING_SECRET"]}
    # A floor, so the check cannot pass vacuously: this module alone logs a user in.
    assert len(secrets) >= 3
    leaks: list[str] = []
    for path, line in session_lines(system):
        leaks.extend(f"{path.name}: {secret[:6]}…" for secret in secrets if secret in line)
    assert not leaks, f"secrets found in logs: {sorted(set(leaks))[:20]}"
