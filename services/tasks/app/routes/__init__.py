"""HTTP routes of the tasks service."""

from fastapi import APIRouter

from services.tasks.app.routes.events import router as events_router
from services.tasks.app.routes.tasks import router as tasks_router

ROUTERS: list[APIRouter] = [tasks_router, events_router]
