"""HTTP routes of the auth service."""

from fastapi import APIRouter

ROUTERS: list[APIRouter] = []
