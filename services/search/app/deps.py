"""Typed FastAPI dependencies of the search service."""

from typing import Annotated

from fastapi import Depends, Request
from redis.asyncio import Redis

from services.search.app.config import Settings
from services.search.app.runtime import SearchRuntime
from shared.consistency import ConsistencyTokens
from shared.flags import Flags
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


async def get_consistency_tokens(request: Request) -> ConsistencyTokens:
    tokens: ConsistencyTokens = request.app.state.consistency_tokens
    return tokens


async def get_flags(request: Request) -> Flags:
    flags: Flags = request.app.state.flags
    return flags


AppSettings = Annotated[Settings, Depends(get_settings)]
Consistency = Annotated[ConsistencyTokens, Depends(get_consistency_tokens)]
FlagSet = Annotated[Flags, Depends(get_flags)]
Runtime = Annotated[SearchRuntime, Depends(get_runtime)]
RedisClient = Annotated[Redis, Depends(get_redis)]

__all__ = ["AppSettings", "Consistency", "CurrentIdentity", "FlagSet", "RedisClient", "Runtime"]
