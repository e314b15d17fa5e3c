"""HTTP routes of the tasks service."""

from fastapi import APIRouter

from services.tasks.app.routes.tasks import router as tasks_router

ROUTERS: list[APIRouter] = [tasks_router]
