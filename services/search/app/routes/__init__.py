"""HTTP routes of the search service."""

from fastapi import APIRouter

ROUTERS: list[APIRouter] = []
