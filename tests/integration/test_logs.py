"""The logs of this session's processes: correlated by request id, and secrets get recorded.

That every line is structured JSON and holds no secret is checked once the whole session is
over, by ``pytest_sessionfinish`` in ``conftest.py`` (``tests/support/logs.py``).
"""

import asyncio
import time
import uuid

import httpx
import pytest

from tests.integration.harness import System
from tests.support.accounts import new_account
from tests.support.logs import parsed, session_lines, session_processes
from tests.support.polling import Observation, eventually
from tests.support.secrets import SESSION_SECRETS, gateway_client

pytestmark = pytest.mark.integration
BUSY_SYSTEM_GRACE_S = 90.0


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

    async def logged_by_gateway_and_tasks() -> Observation:
        services = {
            service_of[path]
            for path, line in session_lines(system)
            if (parsed(line) or {}).get("request_id") == request_id
        }
        return {"gateway", "tasks"} <= services, services

    await eventually(logged_by_gateway_and_tasks, within=3.0)


async def test_the_session_records_every_secret_it_is_handed(system: System) -> None:
    """The end-of-session leak check looks for these, so recording them must work.

    The login is posted by hand, so only the gateway client's own recording can catch its tokens.
    """
    async with gateway_client(system) as client:
        account = await new_account(client)
        assert {account.password, account.access_token} <= SESSION_SECRETS
        credentials = {"email": account.email, "password": account.password}
        response = await client.post("/api/v1/auth/login", json=credentials)
    assert response.status_code == 200, response.text
    refresh = response.cookies.get("refresh_token")
    assert refresh
    assert {response.json()["access_token"], refresh} <= SESSION_SECRETS
