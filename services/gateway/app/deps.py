"""Typed FastAPI dependencies of the gateway service."""

from typing import Annotated

from fastapi import Depends, Request

from services.gateway.app.openapi import OpenApiCache


def openapi_cache(request: Request) -> OpenApiCache:
    cache: OpenApiCache = request.app.state.openapi
    return cache


OpenApi = Annotated[OpenApiCache, Depends(openapi_cache)]
