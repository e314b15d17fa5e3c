"""Typed FastAPI dependencies of the tasks service."""

from typing import Annotated

from fastapi import Depends, Request

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


Tasks = Annotated[TaskService, Depends(task_service)]
Consistency = Annotated[ConsistencyTokens, Depends(consistency_tokens)]

__all__ = ["Consistency", "CurrentIdentity", "Tasks"]
