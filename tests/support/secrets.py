"""Every secret the tests used, so the session can prove none of them was logged.

When the session ends, ``tests/integration/conftest.py`` checks that no secret recorded here
appears in any log line of this session, so every helper that handles a password, token or API
key records it with ``remember``. A client made by ``gateway_client`` also records every token
the system hands out (login, refresh, OAuth token, API-key creation), including rotated ones.
"""

from typing import Any

import httpx

from tests.integration.harness import System

SESSION_SECRETS: set[str] = set()
TOKEN_FIELDS = ("access_token", "refresh_token", "key")
SECRET_COOKIES = ("refresh_token",)
# Where tokens and keys are issued; elsewhere a "key" is a name (an OFREP flag's, say).
AUTH_PATHS = ("/api/v1/auth/",)


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
