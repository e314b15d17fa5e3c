"""The OAuth 2.0 token endpoint (RFC 6749): password and refresh_token grants.

The form body is parsed here rather than through FastAPI's ``Form`` so the service needs no
multipart library and every malformed request gets an RFC 6749 error body, not a 422.
"""

from typing import Any
from urllib.parse import parse_qsl

from fastapi import APIRouter, Request
from starlette.responses import JSONResponse

from services.auth.app.deps import ClientAddress, Service
from services.auth.app.errors import InvalidCredentials, InvalidRefreshToken
from services.auth.app.routes.account import NO_STORE
from services.auth.app.schemas import OAuthErrorOut, OAuthTokenOut
from services.auth.app.service import IssuedTokens
from shared.problems import problem_responses

router = APIRouter(prefix="/api/v1/auth", tags=["auth"])
FORM_TYPE = "application/x-www-form-urlencoded"
MAX_FIELDS = 20
MAX_FIELD_LENGTH = 4096

FORM_SCHEMA: dict[str, Any] = {
    "type": "object",
    "required": ["grant_type"],
    "properties": {
        "grant_type": {"type": "string", "enum": ["password", "refresh_token"]},
        "username": {"type": "string"},
        "password": {"type": "string", "format": "password"},
        "refresh_token": {"type": "string"},
        "scope": {"type": "string"},
    },
}


class OAuthError(Exception):
    def __init__(self, error: str, description: str) -> None:
        super().__init__(description)
        self.error = error
        self.description = description


def oauth_error(exc: OAuthError) -> JSONResponse:
    body = {"error": exc.error, "error_description": exc.description}
    return JSONResponse(body, status_code=400, headers=NO_STORE)


async def read_form(request: Request) -> dict[str, str]:
    content_type = request.headers.get("content-type", "").split(";")[0].strip().lower()
    if content_type != FORM_TYPE:
        raise OAuthError("invalid_request", f"The body must be {FORM_TYPE}.")
    try:
        pairs = parse_qsl(
            (await request.body()).decode(), keep_blank_values=True, max_num_fields=MAX_FIELDS
        )
    except ValueError as exc:  # bad UTF-8 or too many fields
        raise OAuthError("invalid_request", "The form body cannot be parsed.") from exc
    names = [name for name, _ in pairs]
    if len(names) != len(set(names)):
        raise OAuthError("invalid_request", "A parameter was sent more than once.")
    if any(len(value) > MAX_FIELD_LENGTH for _, value in pairs):
        raise OAuthError("invalid_request", "A parameter is too long.")
    return dict(pairs)


def required(form: dict[str, str], name: str) -> str:
    value = form.get(name)
    if not value:
        raise OAuthError("invalid_request", f"The {name} parameter is required.")
    return value


async def grant(
    form: dict[str, str], request: Request, service: Service, address: str
) -> IssuedTokens:
    grant_type = required(form, "grant_type")
    if grant_type == "password":
        return await service.login(
            email=required(form, "username"),
            password=required(form, "password"),
            address=address,
            user_agent=request.headers.get("user-agent"),
        )
    if grant_type == "refresh_token":
        return await service.refresh(refresh_token=required(form, "refresh_token"))
    raise OAuthError("unsupported_grant_type", "Use password or refresh_token.")


@router.post(
    "/token",
    response_model=OAuthTokenOut,
    responses={
        400: {"model": OAuthErrorOut, "description": "RFC 6749 error"},
        **problem_responses(429),
    },
    openapi_extra={
        "requestBody": {"required": True, "content": {FORM_TYPE: {"schema": FORM_SCHEMA}}}
    },
)
async def token(request: Request, service: Service, address: ClientAddress) -> JSONResponse:
    try:
        issued = await grant(await read_form(request), request, service, address)
    except OAuthError as exc:
        return oauth_error(exc)
    except InvalidCredentials:
        return oauth_error(OAuthError("invalid_grant", "Invalid username or password."))
    except InvalidRefreshToken:
        return oauth_error(OAuthError("invalid_grant", "The refresh token is invalid."))
    body = OAuthTokenOut(
        access_token=issued.access.token,
        expires_in=issued.access.expires_in,
        refresh_token=issued.refresh_token,
    )
    return JSONResponse(body.model_dump(), headers=NO_STORE)
