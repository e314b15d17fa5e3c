"""Typed FastAPI dependencies of the tasks service."""

from typing import Annotated

from fastapi import Depends, Request
from redis.asyncio import Redis

from services.tasks.app.config import Settings
from services.tasks.app.live import LiveEvents
from services.tasks.app.service import TaskService
from shared.consistency import ConsistencyTokens
from shared.identity import CurrentIdentity


async def task_service(request: Request) -> TaskService:
    # async, though it awaits nothing: FastAPI runs a plain ``def`` dependency in a thread.
    service: TaskService = request.app.state.task_service
    return service


async def consistency_tokens(request: Request) -> ConsistencyTokens:
    tokens: ConsistencyTokens = request.app.state.consistency_tokens
    return tokens


async def app_settings(request: Request) -> Settings:
    settings: Settings = request.app.state.settings
    return settings


async def live_events(request: Request) -> LiveEvents:
    live: LiveEvents = request.app.state.live_events
    return live


async def redis_client(request: Request) -> Redis:
    redis: Redis = request.app.state.redis
    return redis


Tasks = Annotated[TaskService, Depends(task_service)]
AppSettings = Annotated[Settings, Depends(app_settings)]
Live = Annotated[LiveEvents, Depends(live_events)]
RedisClient = Annotated[Redis, Depends(redis_client)]
Consistency = Annotated[ConsistencyTokens, Depends(consistency_tokens)]

__all__ = ["AppSettings", "Consistency", "CurrentIdentity", "Live", "RedisClient", "Tasks"]
