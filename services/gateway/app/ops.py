"""The gateway's ops listener: ``/metrics`` and readiness details on a port of their own.

The public port is reachable by anyone, so it keeps only ``/health`` and a plain ``/ready``;
Prometheus scrapes this listener (``GATEWAY_OPS_PORT``, loopback unless configured). It is a
second uvicorn server in the same process and event loop, sharing the app's state (metrics
registry, readiness checks), started and stopped by the app's lifespan.
"""

import asyncio
import contextlib
import socket
from collections.abc import AsyncIterator, Iterator

import uvicorn
from fastapi import FastAPI
from starlette.datastructures import State

from shared.ops import ops_router

STARTUP_POLL_SECONDS = 0.01


class OpsServer(uvicorn.Server):
    @contextlib.contextmanager
    def capture_signals(self) -> Iterator[None]:
        # The public server owns the process's signals; this one stops with the app.
        yield


def build_ops_app(state: State) -> FastAPI:
    app = FastAPI(openapi_url=None, docs_url=None, redoc_url=None)
    app.state = state
    app.include_router(ops_router())
    return app


@contextlib.asynccontextmanager
async def ops_listener(state: State, *, host: str, port: int) -> AsyncIterator[None]:
    config = uvicorn.Config(
        build_ops_app(state),
        host=host,
        port=port,
        lifespan="off",
        access_log=False,
        log_config=None,
        server_header=False,
        timeout_graceful_shutdown=2,
    )
    # Bound here, not by uvicorn, so a taken port fails the gateway's start-up with an OSError
    # instead of a sys.exit inside a task.
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    listening = socket.create_server((host, port), family=family)
    server = OpsServer(config)
    task = asyncio.create_task(server.serve(sockets=[listening]))
    try:
        while not server.started:
            if task.done():
                task.result()
                raise RuntimeError(f"the ops listener did not start on {host}:{port}")
            await asyncio.sleep(STARTUP_POLL_SECONDS)
        yield
    finally:
        server.should_exit = True
        await task
        listening.close()
