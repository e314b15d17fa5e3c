"""HTTP routes of the tasks service."""

from fastapi import APIRouter

ROUTERS: list[APIRouter] = []
