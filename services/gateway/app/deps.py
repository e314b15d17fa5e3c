"""Typed FastAPI dependencies of the gateway service."""

from typing import Annotated

from fastapi import Depends, Request

from services.gateway.app.openapi import OpenApiCache
from services.gateway.app.profiles import ProfileCache
from services.gateway.app.service import Gatekeeper
from shared.flags import Flags
from shared.identity import Identity


def openapi_cache(request: Request) -> OpenApiCache:
    cache: OpenApiCache = request.app.state.openapi
    return cache


async def signed_in_user(request: Request) -> Identity:
    """The caller, admitted as on a proxied route (credentials, revocation, rate limit)."""
    gatekeeper: Gatekeeper = request.app.state.gatekeeper
    admission = await gatekeeper.admit_user(
        authorization=request.headers.get("authorization"),
        api_key=request.headers.get("x-api-key"),
        client_ip=request.client.host if request.client else "unknown",
    )
    return admission.identity


def flag_set(request: Request) -> Flags:
    flags: Flags = request.app.state.flags
    return flags


def profile_cache(request: Request) -> ProfileCache:
    profiles: ProfileCache = request.app.state.profiles
    return profiles


OpenApi = Annotated[OpenApiCache, Depends(openapi_cache)]
SignedInUser = Annotated[Identity, Depends(signed_in_user)]
FlagSet = Annotated[Flags, Depends(flag_set)]
Profiles = Annotated[ProfileCache, Depends(profile_cache)]
