"""The bench's HTTP client: aiohttp behind the few calls the benchmarks make.

The load generator shares the machine's two cores with the system it measures, so its own
CPU is taken from the system and its own overhead lands in every latency it reports. httpx
costs ~2 ms of client CPU per request here, aiohttp ~0.15 ms (measured for the gateway's
upstream client, see ``services/gateway/app/client.py``); at 100 writes/s plus polling, httpx
alone kept about half a core busy in the bench process.
"""

from collections.abc import AsyncIterator, Mapping
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from typing import Any

import aiohttp
import orjson

# Idle connections are dropped long before the services' keep-alive (75 s) ends, so a request
# is never sent on a connection the server is closing.
KEEPALIVE_SECONDS = 2.0
MAX_CONNECTIONS = 200
TIMEOUT_SECONDS = 30.0


class HttpStatusError(aiohttp.ClientError):
    """A 4xx or 5xx answer where the bench needed a success."""


# Everything a request can raise: no answer, a broken one, a timeout, or an error status.
HTTP_ERRORS = (aiohttp.ClientError, TimeoutError)


@dataclass(frozen=True)
class Reply:
    status: int
    body: bytes
    headers: Mapping[str, str] = field(default_factory=dict)

    @property
    def text(self) -> str:
        return self.body.decode()

    def json(self) -> Any:
        return orjson.loads(self.body)

    def raise_for_status(self) -> None:
        if self.status >= 400:
            raise HttpStatusError(f"HTTP {self.status}: {self.body[:200]!r}")


class Http:
    """GET and POST that read the whole body, so a timed call includes receiving it."""

    def __init__(self, session: aiohttp.ClientSession) -> None:
        self._session = session

    async def get(
        self,
        url: str,
        *,
        params: Mapping[str, str | int] | None = None,
        headers: Mapping[str, str] | None = None,
    ) -> Reply:
        async with self._session.get(url, params=params, headers=headers) as r:
            return Reply(r.status, await r.read(), r.headers)

    async def post(
        self,
        url: str,
        *,
        json: object = None,
        data: Mapping[str, str] | bytes | None = None,
        headers: Mapping[str, str] | None = None,
    ) -> Reply:
        async with self._session.post(url, json=json, data=data, headers=headers) as r:
            return Reply(r.status, await r.read(), r.headers)

    async def request(
        self,
        method: str,
        url: str,
        *,
        params: Mapping[str, str | int] | None = None,
        json: object = None,
        headers: Mapping[str, str] | None = None,
    ) -> Reply:
        async with self._session.request(
            method, url, params=params, json=json, headers=headers
        ) as r:
            return Reply(r.status, await r.read(), r.headers)

    @asynccontextmanager
    async def stream(
        self, url: str, *, headers: Mapping[str, str]
    ) -> AsyncIterator[aiohttp.StreamReader]:
        """A GET whose body is read as it arrives (Server-Sent Events), with no time limit."""
        no_limit = aiohttp.ClientTimeout(total=None, sock_read=None)
        async with self._session.get(url, headers=headers, timeout=no_limit) as r:
            if r.status != 200:
                raise HttpStatusError(f"HTTP {r.status}: {(await r.read())[:200]!r}")
            yield r.content


@asynccontextmanager
async def open_http() -> AsyncIterator[Http]:
    connector = aiohttp.TCPConnector(limit=MAX_CONNECTIONS, keepalive_timeout=KEEPALIVE_SECONDS)
    timeout = aiohttp.ClientTimeout(total=TIMEOUT_SECONDS)
    async with aiohttp.ClientSession(connector=connector, timeout=timeout) as session:
        yield Http(session)
