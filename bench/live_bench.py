"""Live events (issue 26): how many SSE streams one tasks replica holds, and how fast a write
reaches an open stream.

``sse_event_delivery_*``: one stream through the gateway, 20 creates/s through the gateway;
from each create's acknowledgement until its ``created`` event arrives on the stream.
``sse_streams_per_replica``: streams opened straight to one tasks replica (each for its own
user, signed as the gateway signs) in steps, until its resident memory would pass 256 MiB or
the step cap is reached; the figure is the number held at the last step within the budget,
with the replica's RSS beside it (``sse_rss_mib``). Every held stream must still deliver: one
event per step goes to the last stream opened and must arrive.
"""

import asyncio
import secrets
import time
from collections.abc import AsyncIterator
from pathlib import Path

import aiohttp
import orjson

from bench.client import Bench, create_task
from bench.load import paced
from bench.stats import percentile
from shared.identity import IDENTITY_HEADER, Identity, sign_identity

STREAM = "/api/v1/events/stream"
WRITES_PER_S = 20
RSS_BUDGET_MIB = 256
CREATED = "taskstream.task.created"


def rss_mib(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    raise RuntimeError(f"no VmRSS for pid {pid}")


async def sse_events(content: aiohttp.StreamReader) -> AsyncIterator[tuple[str, bytes]]:
    """(event type, data) as they arrive; comments and retry lines skipped."""
    kind, data = "", b""
    async for raw in content:
        line = raw.rstrip(b"\r\n")
        if not line:
            if data:
                yield kind, data
            kind, data = "", b""
        elif line.startswith(b"event: "):
            kind = line[7:].decode()
        elif line.startswith(b"data: "):
            data = line[6:]


async def _delivery(bench: Bench) -> dict[str, float]:
    headers = await bench.bearer()
    arrived: dict[str, float] = {}
    acked: dict[str, float] = {}

    async def listen() -> None:
        async with bench.http.stream(f"{bench.gateway}{STREAM}", headers=headers) as content:
            async for kind, data in sse_events(content):
                if kind == CREATED:
                    arrived[orjson.loads(data)["id"]] = time.perf_counter()

    listener = asyncio.create_task(listen())
    await asyncio.sleep(0.5)  # the stream is open before the first write

    async def write(number: int) -> None:
        task_id = await create_task(bench.http, bench.gateway, headers, title=f"live {number}")
        acked[task_id] = time.perf_counter()

    await paced(write, rate=WRITES_PER_S, seconds=bench.sizes.e2s_seconds)
    await asyncio.sleep(1.0)
    listener.cancel()
    await asyncio.gather(listener, return_exceptions=True)
    delays = [arrived[task] - at for task, at in acked.items() if task in arrived]
    return {
        "sse_event_delivery_p50_ms": percentile(delays, 50) * 1000,
        "sse_event_delivery_p99_ms": percentile(delays, 99) * 1000,
        "sse_events_missing": float(len(acked) - len(delays)),
    }


class StreamHolder:
    """Opens streams to one replica, each as a user of its own, and keeps them open."""

    def __init__(self, bench: Bench, session: aiohttp.ClientSession) -> None:
        self.bench = bench
        self.session = session
        self.url = bench.url("tasks") + STREAM
        self.readers: list[asyncio.Task[None]] = []
        self.first_event: dict[str, asyncio.Event] = {}

    def signed(self, user_id: str) -> dict[str, str]:
        secret = self.bench.system.env["INTERNAL_SIGNING_SECRET"].encode()
        identity = Identity(user_id=user_id, via="jwt")
        return {IDENTITY_HEADER: sign_identity(identity, secret=secret, method="GET", path=STREAM)}

    async def open(self, count: int) -> str:
        """``count`` more streams; the user id of the last one."""
        users = [f"live-bench-{secrets.token_hex(6)}" for _ in range(count)]
        opened = [asyncio.Event() for _ in users]
        for user, ready in zip(users, opened, strict=True):
            self.first_event[user] = asyncio.Event()
            self.readers.append(asyncio.create_task(self.read(user, ready)))
        async with asyncio.timeout(60):
            await asyncio.gather(*(ready.wait() for ready in opened))
        return users[-1]

    async def read(self, user: str, ready: asyncio.Event) -> None:
        async with self.session.get(self.url, headers=self.signed(user)) as response:
            response.raise_for_status()
            ready.set()
            async for kind, _ in sse_events(response.content):
                if kind == CREATED:
                    self.first_event[user].set()

    async def close(self) -> None:
        for reader in self.readers:
            reader.cancel()
        await asyncio.gather(*self.readers, return_exceptions=True)


async def _capacity(bench: Bench) -> dict[str, float]:
    """Streams held within the memory budget, checking each step still delivers."""
    pid = bench.system.one("tasks").process.pid  # type: ignore[union-attr]
    step, cap = bench.sizes.sse_step, bench.sizes.sse_max_streams
    connector = aiohttp.TCPConnector(limit=0)
    timeout = aiohttp.ClientTimeout(total=None, sock_read=None)
    held, rss = 0, rss_mib(pid)
    base = rss
    async with aiohttp.ClientSession(connector=connector, timeout=timeout) as session:
        holder = StreamHolder(bench, session)
        try:
            while held + step <= cap:
                last_user = await holder.open(step)
                await _deliver_to(bench, holder, last_user)
                now = rss_mib(pid)
                if now > RSS_BUDGET_MIB:
                    break
                held, rss = held + step, now
        finally:
            await holder.close()
    return {"sse_streams_per_replica": float(held), "sse_rss_mib": rss, "sse_base_rss_mib": base}


async def _deliver_to(bench: Bench, holder: StreamHolder, user: str) -> None:
    """A write of ``user``'s must reach their stream (the newest of many held open)."""
    path = "/api/v1/tasks"
    secret = bench.system.env["INTERNAL_SIGNING_SECRET"].encode()
    body = orjson.dumps({"title": "capacity"})
    identity = Identity(user_id=user, via="jwt")
    signed = sign_identity(identity, secret=secret, method="POST", path=path, body=body)
    headers = {IDENTITY_HEADER: signed, "Content-Type": "application/json"}
    reply = await bench.http.post(bench.url("tasks") + path, data=body, headers=headers)
    reply.raise_for_status()
    try:
        async with asyncio.timeout(10):
            await holder.first_event[user].wait()
    except TimeoutError:
        raise RuntimeError(f"a stream among {len(holder.readers)} got no event in 10 s") from None


async def run(bench: Bench) -> dict[str, object]:
    figures = await _delivery(bench) | await _capacity(bench)
    return {**figures, "raw": {"rounds": [figures]}}
