"""The public signing keys, for the gateway and anyone else verifying access tokens."""

from fastapi import APIRouter, Request
from starlette.responses import JSONResponse

from services.auth.app.schemas import Jwks

router = APIRouter(tags=["keys"])
# Short, so a verifier meeting an unknown kid after a rotation is not stuck with old keys.
JWKS_CACHE_CONTROL = "public, max-age=60"


@router.get("/.well-known/jwks.json", response_model=Jwks)
async def jwks(request: Request) -> JSONResponse:
    body = request.app.state.auth.keyring.jwks()
    return JSONResponse(body, headers={"Cache-Control": JWKS_CACHE_CONTROL})
