"""What the system-level tests share: every secret they used, clients of the gateway, accounts.

The log test (``test_zz_logs.py``) runs last and asserts that none of the secrets recorded here
appears in any log line of this session, so every helper that handles a password, token or API
key records it. A gateway client made by ``gateway_client`` also records every token the
system hands out (login, refresh, OAuth token, API-key creation), including rotated ones.
"""

import asyncio
import time
import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx

from deploy.local.services import ServiceProcess
from tests.integration.harness import LOG_DIR, System

SESSION_SECRETS: set[str] = set()
# Log files may be appended to by earlier sessions (ports get reused); only what this session
# wrote is checked, so remember where every existing log ended when the tests were collected.
LOG_OFFSETS_AT_START: dict[Path, int] = {
    path: path.stat().st_size for path in LOG_DIR.glob("*.log") if path.is_file()
}
# Replicas that fault tests started and later took out of ``system``: their logs still count.
RETIRED_PROCESSES: list[ServiceProcess] = []
TOKEN_FIELDS = ("access_token", "refresh_token", "key")
SECRET_COOKIES = ("refresh_token",)
# Where tokens and keys are issued; elsewhere a "key" is a name (an OFREP flag's, say).
AUTH_PATHS = ("/api/v1/auth/",)


def retire(system: System, *processes: ServiceProcess) -> None:
    """Stop extra processes and take them out of ``system`` (their logs still get checked)."""
    for proc in processes:
        proc.stop()
        system.processes[proc.name].remove(proc)
        RETIRED_PROCESSES.append(proc)


def remember(*values: str | None) -> None:
    SESSION_SECRETS.update(value for value in values if value)


async def _record_issued_secrets(response: httpx.Response) -> None:
    for name in SECRET_COOKIES:
        remember(response.cookies.get(name))
    if not response.headers.get("content-type", "").startswith("application/json"):
        return
    await response.aread()
    try:
        body = response.json()
    except ValueError:
        return
    if isinstance(body, dict) and response.request.url.path.startswith(AUTH_PATHS):
        remember(*(str(body[name]) for name in TOKEN_FIELDS if isinstance(body.get(name), str)))


def gateway_client(system: System, **kwargs: Any) -> httpx.AsyncClient:
    """A client of the gateway that records every token it is handed."""
    return httpx.AsyncClient(
        base_url=system.gateway_url,
        timeout=kwargs.pop("timeout", 30),
        event_hooks={"response": [_record_issued_secrets]},
        **kwargs,
    )


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def unique_word(prefix: str = "zq") -> str:
    """A token no other task contains, letters only so the search tokenizer keeps it whole."""
    letters = "".join(chr(ord("a") + b % 26) for b in uuid.uuid4().bytes[:10])
    return f"{prefix}{letters}"


@dataclass
class Account:
    """A registered, logged-in user, as ``helpers.new_account`` makes one."""

    email: str
    password: str
    user_id: str
    access_token: str

    @property
    def headers(self) -> dict[str, str]:
        """``Authorization: Bearer <access token>``."""
        return bearer(self.access_token)


async def create_task(client: httpx.AsyncClient, account: Account, **fields: Any) -> dict[str, Any]:
    body = {"title": "a task", **fields}
    response = await client.post("/api/v1/tasks", json=body, headers=account.headers)
    assert response.status_code == 201, response.text
    task: dict[str, Any] = response.json()
    return task


async def search_total(client: httpx.AsyncClient, account: Account, query: str) -> int:
    response = await client.get(
        "/api/v1/search", params={"q": query, "limit": 100}, headers=account.headers
    )
    assert response.status_code == 200, response.text
    total: int = response.json()["total"]
    return total


Observation = tuple[bool, object]


async def eventually(
    probe: Callable[[], Awaitable[Observation]], *, within: float, interval: float = 0.1
) -> float:
    """Poll ``probe`` until it reports done; return how long that took.

    The probe answers (done, what it saw); the last thing seen is in the failure message.
    """
    started = time.monotonic()
    while True:
        done, seen = await probe()
        if done:
            return time.monotonic() - started
        if time.monotonic() - started > within:
            raise AssertionError(f"condition not met within {within}s; last seen: {seen!r}")
        await asyncio.sleep(interval)
