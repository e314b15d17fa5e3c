"""HTTP routes of the search service."""

from fastapi import APIRouter

from services.search.app.routes.search import router as search_router

ROUTERS: list[APIRouter] = [search_router]
