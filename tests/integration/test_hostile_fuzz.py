"""Schemathesis against the gateway's merged OpenAPI document, authenticated, every operation.

Checks: no 5xx, and every documented response matches its schema. It runs the schemathesis
CLI in a subprocess (seeded, deterministic, a modest number of examples per operation) so the
run is repeatable and its report readable on failure.
"""

import asyncio
import os
import re
import subprocess
import sys
from collections.abc import Sequence
from pathlib import Path

import httpx
import pytest

from tests.integration.harness import System
from tests.support.accounts import new_account
from tests.support.secrets import gateway_client, remember

pytestmark = pytest.mark.integration
CHECKS = "not_a_server_error,response_schema_conformance"
# Logging out with the only token would turn the rest of a run into 401s; the e2e tests cover
# both routes, and the API-key run below reaches them too.
TOKEN_RUN_EXCLUDES = ("--exclude-path-regex", "/logout")
EXAMPLES = os.environ.get("FUZZ_MAX_EXAMPLES", "20")


def schemathesis(system: System, header: str, extra: Sequence[str], report: Path) -> None:
    command = [
        str(Path(sys.executable).with_name("schemathesis")),
        "run",
        f"{system.gateway_url}/api/v1/openapi.json",
        "--url",
        system.gateway_url,
        "--header",
        header,
        "--checks",
        CHECKS,
        "--max-examples",
        EXAMPLES,
        "--seed",
        "20261122",
        "--generation-database",
        "none",
        "--phases",
        "examples,coverage,fuzzing",
        "--request-timeout",
        "15",
        "--workers",
        "2",
        "--no-color",
        "--report",
        "junit",
        "--report-junit-path",
        str(report),
        *extra,
    ]
    result = subprocess.run(command, capture_output=True, text=True, timeout=600, check=False)
    output = result.stdout + result.stderr
    assert result.returncode == 0, output[-20_000:]


def operations_in_report(report: Path) -> set[str]:
    return set(re.findall(r'<testcase name="([^"]+)"', report.read_text()))


def documented_operations(system: System, *, excluding: str | None = None) -> set[str]:
    document = httpx.get(f"{system.gateway_url}/api/v1/openapi.json", timeout=10).json()
    return {
        f"{method.upper()} {path}"
        for path, operations in document["paths"].items()
        for method in operations
        if method in {"get", "post", "put", "patch", "delete"}
        and not (excluding and re.search(excluding, path))
    }


async def test_no_operation_fails_with_a_bearer_token(system: System, tmp_path: Path) -> None:
    async with gateway_client(system) as client:
        account = await new_account(client)
    report = tmp_path / "bearer.xml"
    header = f"Authorization: Bearer {account.access_token}"
    await asyncio.to_thread(schemathesis, system, header, TOKEN_RUN_EXCLUDES, report)
    assert operations_in_report(report) == documented_operations(
        system, excluding=TOKEN_RUN_EXCLUDES[1]
    )


async def test_no_operation_fails_with_an_api_key(system: System, tmp_path: Path) -> None:
    async with gateway_client(system) as client:
        account = await new_account(client)
        key = await client.post(
            "/api/v1/auth/api-keys",
            json={"name": "fuzz", "scopes": ["tasks:read", "tasks:write", "search:read"]},
            headers=account.headers,
        )
    assert key.status_code == 201, key.text
    remember(key.json()["key"])
    report = tmp_path / "api-key.xml"
    await asyncio.to_thread(schemathesis, system, f"X-API-Key: {key.json()['key']}", (), report)
    assert operations_in_report(report) == documented_operations(system)


def test_every_public_route_is_in_the_document(system: System) -> None:
    document = httpx.get(f"{system.gateway_url}/api/v1/openapi.json", timeout=10).json()
    paths = set(document["paths"])
    expected = {
        "/api/v1/auth/register",
        "/api/v1/auth/login",
        "/api/v1/auth/refresh",
        "/api/v1/auth/token",
        "/api/v1/auth/logout",
        "/api/v1/auth/logout-all",
        "/api/v1/auth/me",
        "/api/v1/auth/sessions",
        "/api/v1/auth/api-keys",
        "/api/v1/tasks",
        "/api/v1/tasks/{task_id}",
        "/api/v1/tasks/stats",
        "/api/v1/search",
    }
    missing = {path for path in expected if path not in paths}
    # Path parameter names are the services' choice; compare templates by shape for those.
    shapes = {path.split("{")[0] for path in paths}
    assert {path for path in missing if path.split("{")[0] not in shapes} == set()
    assert document["openapi"].startswith("3.1")
    assert not any(path.startswith("/internal") for path in paths)
