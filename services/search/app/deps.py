"""Typed FastAPI dependencies of the search service."""

from typing import Annotated

from fastapi import Depends, Request
from redis.asyncio import Redis

from services.search.app.config import Settings
from services.search.app.runtime import SearchRuntime
from shared.identity import CurrentIdentity


async def get_settings(request: Request) -> Settings:
    settings: Settings = request.app.state.settings
    return settings


async def get_runtime(request: Request) -> SearchRuntime:
    runtime: SearchRuntime = request.app.state.runtime
    return runtime


async def get_redis(request: Request) -> Redis:
    redis: Redis = request.app.state.redis
    return redis


AppSettings = Annotated[Settings, Depends(get_settings)]
Runtime = Annotated[SearchRuntime, Depends(get_runtime)]
RedisClient = Annotated[Redis, Depends(get_redis)]

__all__ = ["AppSettings", "CurrentIdentity", "RedisClient", "Runtime"]
