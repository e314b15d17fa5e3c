"""Register, log in and out, refresh in the browser flow, and read the account."""

from typing import Annotated

from fastapi import APIRouter, Cookie, Depends, Header, Request, Response

from services.auth.app.cookies import (
    CSRF_COOKIE,
    REFRESH_COOKIE,
    clear_session_cookies,
    set_session_cookies,
)
from services.auth.app.deps import (
    AppSettings,
    ClientAddress,
    CurrentIdentity,
    Service,
    SessionIdentity,
)
from services.auth.app.errors import CsrfRejected, InvalidRefreshToken
from services.auth.app.schemas import (
    AccessTokenOut,
    LoginRequest,
    LogoutAllRequest,
    RegisterRequest,
    UserOut,
)
from services.auth.app.service import IssuedTokens
from services.auth.app.tokens import csrf_matches, csrf_token_for
from services.auth.app.users import User
from shared.derived_keys import derive_key
from shared.problems import problem_responses

router = APIRouter(prefix="/api/v1/auth", tags=["auth"])
NO_STORE = {"Cache-Control": "no-store", "Pragma": "no-cache"}


def user_out(user: User) -> UserOut:
    return UserOut(id=user.id, email=user.email, name=user.name, created_at=user.created_at)


def csrf_key(settings: AppSettings) -> bytes:
    """CSRF tokens get a key of their own, derived from (never equal to) the signing secret."""
    return derive_key(settings.internal_signing_secret.get_secret_value().encode(), "csrf")


def browser_response(response: Response, tokens: IssuedTokens, settings: AppSettings) -> None:
    response.headers.update(NO_STORE)
    set_session_cookies(
        response,
        refresh_token=tokens.refresh_token,
        csrf_token=csrf_token_for(tokens.refresh_token, key=csrf_key(settings)),
        secure=settings.cookie_secure,
        max_age=settings.refresh_token_ttl_seconds,
    )


@router.post(
    "/register", status_code=201, response_model=UserOut, responses=problem_responses(409, 422)
)
async def register(body: RegisterRequest, service: Service) -> UserOut:
    user = await service.register(email=body.email, password=body.password, name=body.name)
    return user_out(user)


@router.post("/login", response_model=AccessTokenOut, responses=problem_responses(401, 422, 429))
async def login(
    body: LoginRequest,
    request: Request,
    response: Response,
    service: Service,
    settings: AppSettings,
    address: ClientAddress,
) -> AccessTokenOut:
    tokens = await service.login(
        email=body.email,
        password=body.password,
        address=address,
        user_agent=request.headers.get("user-agent"),
    )
    browser_response(response, tokens, settings)
    return AccessTokenOut(access_token=tokens.access.token, expires_in=tokens.access.expires_in)


def browser_refresh_token(
    settings: AppSettings,
    x_csrf_token: Annotated[str | None, Header()] = None,
    refresh_token: Annotated[str | None, Cookie()] = None,
    csrf_token: Annotated[str | None, Cookie()] = None,
) -> str:
    """The refresh cookie, once the CSRF header matches the CSRF cookie and belongs to it."""
    if not x_csrf_token or x_csrf_token != csrf_token:
        raise CsrfRejected(f"The X-CSRF-Token header must equal the {CSRF_COOKIE} cookie.")
    if not refresh_token:
        raise InvalidRefreshToken(f"The {REFRESH_COOKIE} cookie is missing.")
    key = csrf_key(settings)
    if not csrf_matches(
        header=x_csrf_token, cookie=csrf_token, refresh_token=refresh_token, key=key
    ):
        raise CsrfRejected("The CSRF token does not belong to this refresh token.")
    return refresh_token


@router.post("/refresh", response_model=AccessTokenOut, responses=problem_responses(401, 403, 422))
async def refresh(
    response: Response,
    service: Service,
    settings: AppSettings,
    refresh_token: Annotated[str, Depends(browser_refresh_token)],
) -> AccessTokenOut:
    """Browser flow: the ``refresh_token`` cookie plus ``X-CSRF-Token`` = the CSRF cookie."""
    tokens = await service.refresh(refresh_token=refresh_token)
    browser_response(response, tokens, settings)
    return AccessTokenOut(access_token=tokens.access.token, expires_in=tokens.access.expires_in)


@router.post("/logout", status_code=204, responses=problem_responses(401, 403))
async def logout(identity: SessionIdentity, service: Service, settings: AppSettings) -> Response:
    await service.logout(identity=identity)
    response = Response(status_code=204)
    clear_session_cookies(response, secure=settings.cookie_secure)
    return response


@router.post("/logout-all", status_code=204, responses=problem_responses(401, 403, 422))
async def logout_all(
    identity: SessionIdentity,
    service: Service,
    settings: AppSettings,
    body: LogoutAllRequest | None = None,
) -> Response:
    """Every session ends; with ``{"revoke_api_keys": true}`` every API key stops working too."""
    revoke_keys = body is not None and body.revoke_api_keys
    await service.logout_all(identity=identity, revoke_api_keys=revoke_keys)
    response = Response(status_code=204)
    clear_session_cookies(response, secure=settings.cookie_secure)
    return response


@router.get("/me", response_model=UserOut, responses=problem_responses(401))
async def me(identity: CurrentIdentity, service: Service) -> UserOut:
    return user_out(await service.me(user_id=identity.user_id))
