"""The common skeleton of a service app: middleware, error mapping, ops endpoints, metrics."""

from collections.abc import Callable, Sequence
from contextlib import AbstractAsyncContextManager
from typing import Any

from fastapi import APIRouter, FastAPI
from prometheus_client import CollectorRegistry
from starlette.types import ASGIApp

from shared.logging import configure_logging
from shared.metrics import HttpMetrics
from shared.middleware import RequestContextMiddleware
from shared.ops import ops_router
from shared.problems import ProblemMap, install_problem_handlers
from shared.settings import ServiceSettings

Lifespan = Callable[[FastAPI], AbstractAsyncContextManager[None]]


def build_service_app(
    *,
    settings: ServiceSettings,
    title: str,
    lifespan: Lifespan,
    routers: Sequence[APIRouter],
    domain_errors: ProblemMap,
    middleware: Sequence[Callable[[ASGIApp], ASGIApp]] = (),
    ops_details: bool = True,
    **fastapi_kwargs: Any,
) -> FastAPI:
    """Assemble a FastAPI app the same way for every service; no I/O happens here.

    ``middleware`` (plain ASGI classes, outermost first) runs inside the request context, so
    its answers carry the request id too. ``ops_details=False`` keeps metrics and readiness
    details off the app's own port.
    """
    configure_logging(service=settings.service_name, level=settings.log_level)
    app = FastAPI(
        title=title,
        lifespan=lifespan,
        **fastapi_kwargs,
    )
    app.state.settings = settings
    app.state.service_name = settings.service_name
    app.state.metrics = HttpMetrics(CollectorRegistry())
    app.state.readiness_checks = {}
    install_problem_handlers(app, domain_errors)
    for router in (ops_router(details=ops_details), *routers):
        app.include_router(router)
    for inner in reversed(middleware):
        app.add_middleware(inner)
    app.add_middleware(RequestContextMiddleware, metrics=app.state.metrics)
    return app
