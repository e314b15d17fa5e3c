"""The operational endpoints every service has: ``/health``, ``/ready`` and ``/metrics``.

A service whose port is public (the gateway) keeps ``/health`` and a plain ``/ready`` there
(``details=False``: no metrics, no names of what failed) and serves the full set on a listener
of its own for operators.
"""

import asyncio
from collections.abc import Awaitable, Callable, Mapping

from fastapi import APIRouter, Request
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest
from starlette.responses import JSONResponse, Response

from shared.problems import problem_response

ReadinessCheck = Callable[[], Awaitable[object]]
CHECK_TIMEOUT_SECONDS = 2.0


async def run_check(check: ReadinessCheck) -> bool:
    try:
        await asyncio.wait_for(check(), timeout=CHECK_TIMEOUT_SECONDS)
    except Exception:  # any failure means "not ready"; the reason is not for clients
        return False
    return True


async def run_checks(checks: Mapping[str, ReadinessCheck]) -> dict[str, str]:
    results = await asyncio.gather(*(run_check(check) for check in checks.values()))
    return {name: "ok" if ok else "failed" for name, ok in zip(checks, results, strict=True)}


def ops_router(*, details: bool = True) -> APIRouter:
    router = APIRouter(include_in_schema=False)

    @router.get("/health")
    async def health(request: Request) -> JSONResponse:
        return JSONResponse({"status": "ok", "service": request.app.state.service_name})

    @router.get("/ready")
    async def ready(request: Request) -> Response:
        checks: Mapping[str, ReadinessCheck] = getattr(request.app.state, "readiness_checks", {})
        results = await run_checks(checks)
        failed = sorted(name for name, result in results.items() if result != "ok")
        if not details:
            if failed:
                return problem_response(503, "Not ready.", headers={"Retry-After": "2"})
            return JSONResponse({"status": "ready"})
        if failed:
            return problem_response(
                503,
                f"Not ready: {', '.join(failed)} unavailable.",
                headers={"Retry-After": "2"},
                extra={"checks": results},
            )
        return JSONResponse({"status": "ready", "checks": results})

    if details:

        @router.get("/metrics")
        async def metrics(request: Request) -> Response:
            payload = generate_latest(request.app.state.metrics.registry)
            return Response(payload, media_type=CONTENT_TYPE_LATEST)

    return router
