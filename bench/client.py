"""What every benchmark needs: sizes, a user, tokens, signed identities and task writes."""

import asyncio
import secrets
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from yarl import URL

from bench.http_client import HTTP_ERRORS, Http
from deploy.local.system import System
from shared.identity import IDENTITY_HEADER, Identity, sign_identity

PASSWORD = "bench-" + secrets.token_urlsafe(12)
LOGIN_ATTEMPTS = 4
LOGIN_RETRY_SECONDS = 5.0


@dataclass(frozen=True)
class Sizes:
    """How long and how big each benchmark is; ``--smoke`` shrinks everything."""

    rounds: int
    wrk_seconds: float
    connections: int
    load_seconds: float
    e2s_seconds: float
    search_tasks: int
    search_queries: int
    index_rounds: int
    # Issue 25: ordinary users, their tasks each and the heavy user's tasks at the 1M scale
    # (the 100k scale is a tenth of the users and of the heavy user's tasks); queries per kind.
    scale_users: int
    scale_tasks_per_user: int
    scale_heavy_tasks: int
    scale_queries: int
    # Tasks of the two list-benchmark users (issue 27: 10,000 and 100,000).
    list_small_tasks: int
    list_large_tasks: int
    profile_missed_goals: bool
    sse_step: int
    sse_max_streams: int
    journey_users: int
    journey_start_rate: float
    journey_max_rate: float
    journey_refine_steps: int


FULL = Sizes(
    rounds=3,
    wrk_seconds=10,
    connections=64,
    load_seconds=8,
    e2s_seconds=10,
    search_tasks=100_000,
    search_queries=400,
    index_rounds=2,
    scale_users=10_000,
    scale_tasks_per_user=100,
    scale_heavy_tasks=100_000,
    scale_queries=300,
    list_small_tasks=10_000,
    list_large_tasks=100_000,
    profile_missed_goals=True,
    sse_step=500,
    sse_max_streams=5000,
    journey_users=500,
    journey_start_rate=50,
    journey_max_rate=3200,
    journey_refine_steps=3,
)
SMOKE = Sizes(
    rounds=1,
    wrk_seconds=2,
    connections=16,
    load_seconds=1.5,
    e2s_seconds=2,
    search_tasks=1000,
    search_queries=20,
    index_rounds=1,
    scale_users=80,
    scale_tasks_per_user=3,
    scale_heavy_tasks=200,
    scale_queries=10,
    list_small_tasks=100,
    list_large_tasks=1000,
    profile_missed_goals=False,
    sse_step=20,
    sse_max_streams=40,
    journey_users=5,
    journey_start_rate=10,
    journey_max_rate=20,
    journey_refine_steps=0,
)


@dataclass
class User:
    email: str
    user_id: str


@dataclass
class Bench:
    system: System
    http: Http
    sizes: Sizes
    user: User
    work_dir: Path

    @property
    def gateway(self) -> str:
        return self.system.gateway_url

    def url(self, name: str) -> str:
        return self.system.one(name).url

    async def token(self) -> str:
        """A fresh access token: a full run outlives the 15-minute token lifetime."""
        return await login(self.http, self.gateway, self.user.email)

    async def bearer(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {await self.token()}"}

    def identity(
        self,
        method: str,
        path: str,
        params: Mapping[str, str | int] | None = None,
        *,
        user_id: str | None = None,
    ) -> dict[str, str]:
        """The header the gateway would add, for calling a service port directly, as the
        bench user or as any ``user_id`` (registered or not: services trust the signature).

        It is bound to the query too: ``params`` must be the ones the request sends (encoded
        by yarl here exactly as aiohttp will encode them).
        """
        secret = self.system.env["INTERNAL_SIGNING_SECRET"].encode()
        query = URL(path).extend_query(params or {}).raw_query_string.encode()
        identity = Identity(user_id=user_id or self.user.user_id, via="jwt")
        signed = sign_identity(identity, secret=secret, method=method, path=path, query=query)
        return {IDENTITY_HEADER: signed}


async def register(http: Http, gateway: str) -> User:
    email = f"bench-{secrets.token_hex(6)}@example.com"
    response = await http.post(
        f"{gateway}/api/v1/auth/register",
        json={"email": email, "password": PASSWORD, "name": "Bench"},
    )
    response.raise_for_status()
    return User(email=email, user_id=response.json()["id"])


async def login(http: Http, gateway: str, email: str) -> str:
    """An access token; a 5xx (the previous benchmark's load still draining) is retried."""
    body = {"email": email, "password": PASSWORD}
    for _ in range(LOGIN_ATTEMPTS - 1):
        response = await http.post(f"{gateway}/api/v1/auth/login", json=body)
        if response.status < 500:
            break
        await asyncio.sleep(LOGIN_RETRY_SECONDS)
    else:
        response = await http.post(f"{gateway}/api/v1/auth/login", json=body)
    response.raise_for_status()
    token: str = response.json()["access_token"]
    return token


async def create_task(http: Http, gateway: str, headers: dict[str, str], *, title: str) -> str:
    body = {"title": title, "description": f"bench task {title}", "tags": ["bench"]}
    response = await http.post(f"{gateway}/api/v1/tasks", json=body, headers=headers)
    response.raise_for_status()
    task_id: str = response.json()["id"]
    return task_id


async def warm_up(bench: Bench, gateway: str) -> None:
    """Retry one authenticated request until the gateway has the signing keys.

    A fresh gateway answers its very first token with 401 while it fetches the JWKS; the
    figures should describe the warm system, not that one request.
    """
    for _ in range(20):
        response = await bench.http.get(f"{gateway}/api/v1/auth/me", headers=await bench.bearer())
        if response.status == 200:
            return
        await asyncio.sleep(0.25)
    response.raise_for_status()


async def post_task(bench: Bench, headers: dict[str, str], *, title: str) -> bool:
    """One create under load: whether it was acknowledged. Failures are counted, not raised:
    an overloaded system's 503s, 504s and dropped connections are findings too."""
    try:
        response = await bench.http.post(
            f"{bench.gateway}/api/v1/tasks", json={"title": title}, headers=headers
        )
    except HTTP_ERRORS:
        return False
    return response.status == 201
