"""API keys: create (shown once), list, delete; and the gateway's internal resolve call."""

from typing import Annotated

from fastapi import APIRouter, Path, Response

from services.auth.app.apikeys import ApiKey
from services.auth.app.deps import CurrentIdentity, GatewayCaller, Service
from services.auth.app.schemas import (
    ApiKeyCreate,
    ApiKeyCreated,
    ApiKeyList,
    ApiKeyOut,
    ApiKeyResolved,
    ApiKeyResolveRequest,
)
from shared.problems import problem_responses

router = APIRouter(prefix="/api/v1/auth/api-keys", tags=["api keys"])
internal_router = APIRouter(prefix="/internal/v1/api-keys", include_in_schema=False)
KeyId = Annotated[str, Path(min_length=1, max_length=64)]


def api_key_out(key: ApiKey) -> ApiKeyOut:
    return ApiKeyOut(
        id=key.id,
        name=key.name,
        prefix=key.prefix,
        created_at=key.created_at,
        expires_at=key.expires_at,
    )


@router.post(
    "", status_code=201, response_model=ApiKeyCreated, responses=problem_responses(401, 409, 422)
)
async def create_api_key(
    body: ApiKeyCreate, identity: CurrentIdentity, service: Service
) -> ApiKeyCreated:
    created = await service.create_api_key(
        user_id=identity.user_id, name=body.name, expires_in_days=body.expires_in_days
    )
    return ApiKeyCreated(**api_key_out(created.key).model_dump(), key=created.secret)


@router.get("", response_model=ApiKeyList, responses=problem_responses(401))
async def list_api_keys(identity: CurrentIdentity, service: Service) -> ApiKeyList:
    keys = await service.list_api_keys(user_id=identity.user_id)
    return ApiKeyList(items=[api_key_out(key) for key in keys])


@router.delete("/{key_id}", status_code=204, responses=problem_responses(401, 404, 422))
async def delete_api_key(key_id: KeyId, identity: CurrentIdentity, service: Service) -> Response:
    await service.delete_api_key(user_id=identity.user_id, key_id=key_id)
    return Response(status_code=204)


@internal_router.post("/resolve", response_model=ApiKeyResolved)
async def resolve_api_key(
    body: ApiKeyResolveRequest, _: GatewayCaller, service: Service
) -> ApiKeyResolved:
    key = await service.resolve_api_key(key=body.key)
    return ApiKeyResolved(user_id=key.user_id, key_id=key.id, expires_at=key.expires_at)
