"""HTTP routes the gateway answers itself (everything else is proxied)."""

from fastapi import APIRouter

from services.gateway.app.routes.docs import docs_router
from services.gateway.app.routes.ofrep import ofrep_router

ROUTERS: list[APIRouter] = [docs_router(), ofrep_router()]
