"""API keys: create (shown once), list, delete; and the gateway's internal resolve call."""

from typing import Annotated

from fastapi import APIRouter, Path, Response

from services.auth.app.apikeys import ApiKey
from services.auth.app.deps import ClientAddress, GatewayCaller, Service, SessionIdentity
from services.auth.app.schemas import (
    ApiKeyCreate,
    ApiKeyCreated,
    ApiKeyList,
    ApiKeyOut,
    ApiKeyResolved,
    ApiKeyResolveRequest,
)
from services.auth.app.service import KeyRequest
from shared.problems import problem_responses

router = APIRouter(prefix="/api/v1/auth/api-keys", tags=["api keys"])
internal_router = APIRouter(prefix="/internal/v1/api-keys", include_in_schema=False)
KeyId = Annotated[str, Path(min_length=1, max_length=64)]


def api_key_out(key: ApiKey) -> ApiKeyOut:
    return ApiKeyOut(
        id=key.id,
        name=key.name,
        prefix=key.prefix,
        scopes=list(key.scopes),
        created_at=key.created_at,
        expires_at=key.expires_at,
    )


@router.post(
    "",
    status_code=201,
    response_model=ApiKeyCreated,
    responses=problem_responses(401, 403, 409, 422, 429),
)
async def create_api_key(
    body: ApiKeyCreate, identity: SessionIdentity, service: Service, address: ClientAddress
) -> ApiKeyCreated:
    """Needs a session signed in within the last 10 minutes, or the password in the body."""
    request = KeyRequest(body.name, list(body.scopes), body.expires_in_days, body.password)
    created = await service.create_api_key(identity=identity, request=request, address=address)
    return ApiKeyCreated(**api_key_out(created.key).model_dump(), key=created.secret)


@router.get("", response_model=ApiKeyList, responses=problem_responses(401, 403))
async def list_api_keys(identity: SessionIdentity, service: Service) -> ApiKeyList:
    keys = await service.list_api_keys(user_id=identity.user_id)
    return ApiKeyList(items=[api_key_out(key) for key in keys])


@router.delete("/{key_id}", status_code=204, responses=problem_responses(401, 403, 404, 422))
async def delete_api_key(key_id: KeyId, identity: SessionIdentity, service: Service) -> Response:
    await service.delete_api_key(user_id=identity.user_id, key_id=key_id)
    return Response(status_code=204)


@internal_router.post("/resolve", response_model=ApiKeyResolved)
async def resolve_api_key(
    body: ApiKeyResolveRequest, _: GatewayCaller, service: Service
) -> ApiKeyResolved:
    key = await service.resolve_api_key(key=body.key)
    return ApiKeyResolved(
        user_id=key.user_id,
        key_id=key.id,
        scopes=list(key.scopes),
        expires_at=key.expires_at,
    )
