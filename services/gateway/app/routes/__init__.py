"""HTTP routes of the gateway service."""

from fastapi import APIRouter

ROUTERS: list[APIRouter] = []
