"""Social sign-in over HTTP: the provider list, authorize, callback, and link (signed in).

The callback never answers with a body or an error page: a browser lands there from the
provider, so every outcome is a redirect, to ``return_to`` with the session cookies a password
sign-in sets, or to ``/signin?error=<code>``. No token or code is ever put into a URL.
"""

from typing import Annotated, Any
from urllib.parse import urlencode

from fastapi import APIRouter, Cookie, Path, Request, Response
from starlette.responses import RedirectResponse

from services.auth.app.cookies import OIDC_BROWSER_COOKIE, set_oidc_browser_cookie
from services.auth.app.deps import AppSettings, Service, SessionIdentity, Social
from services.auth.app.errors import SocialSignInFailed
from services.auth.app.oidc.redirects import safe_return_to
from services.auth.app.oidc.service import BegunFlow
from services.auth.app.routes.account import NO_STORE, browser_response
from services.auth.app.schemas import LinkRequest, LinkStarted, ProviderList, ProviderOut
from shared.problems import DEPENDENCY_ERRORS, problem_responses

router = APIRouter(prefix="/api/v1/auth/oidc", tags=["social sign-in"])
ProviderId = Annotated[str, Path(min_length=1, max_length=64)]
BrowserCookie = Annotated[str | None, Cookie(alias=OIDC_BROWSER_COOKIE)]
SIGNIN_PAGE = "/signin"
LINK_LANDING = "/settings/accounts"
REDIRECT: dict[int | str, dict[str, Any]] = {
    302: {"description": "Redirect; see the Location header."}
}


def remember_browser(response: Response, begun: BegunFlow, settings: AppSettings) -> None:
    set_oidc_browser_cookie(
        response,
        value=begun.browser,
        secure=settings.cookie_secure,
        max_age=settings.oidc_flow_ttl_seconds,
    )


def signin_error(code: str) -> RedirectResponse:
    return RedirectResponse(f"{SIGNIN_PAGE}?{urlencode({'error': code})}", 302, NO_STORE)


@router.get("/providers", response_model=ProviderList)
async def providers(social: Social) -> ProviderList:
    items = [ProviderOut(id=p.id, name=p.name) for p in social.provider_list()]
    return ProviderList(items=items)


@router.get("/{provider}/authorize", responses={**REDIRECT, **problem_responses(404, 503)})
async def authorize(
    provider: ProviderId,
    social: Social,
    settings: AppSettings,
    browser: BrowserCookie = None,
    return_to: str | None = None,
) -> RedirectResponse:
    """Begin signing in: a redirect to the provider (code flow, PKCE S256, state, nonce)."""
    begun = await social.begin(
        provider_id=provider, return_to=safe_return_to(return_to), browser=browser
    )
    response = RedirectResponse(begun.authorization_url, 302, NO_STORE)
    remember_browser(response, begun, settings)
    return response


@router.get("/{provider}/callback", responses=REDIRECT)
async def callback(
    provider: ProviderId,
    request: Request,
    social: Social,
    settings: AppSettings,
    browser: BrowserCookie = None,
    state: str | None = None,
    code: str | None = None,
    error: str | None = None,
) -> RedirectResponse:
    """Where the provider sends the browser back; ends on ``return_to`` or ``/signin?error=``."""
    try:
        finished = await social.finish(
            provider_id=provider,
            state=state,
            code=code,
            error=error,
            browser=browser,
            user_agent=request.headers.get("user-agent"),
        )
    except SocialSignInFailed as exc:
        return signin_error(exc.code)
    except DEPENDENCY_ERRORS:
        return signin_error("temporarily_unavailable")
    response = RedirectResponse(finished.return_to, 302)
    if finished.tokens is not None:
        browser_response(response, finished.tokens, settings)
    response.headers.update(NO_STORE)
    return response


@router.post(
    "/{provider}/link",
    response_model=LinkStarted,
    responses=problem_responses(401, 403, 404, 422, 503),
)
async def link(
    provider: ProviderId,
    response: Response,
    identity: SessionIdentity,
    service: Service,
    social: Social,
    settings: AppSettings,
    browser: BrowserCookie = None,
    body: LinkRequest | None = None,
) -> LinkStarted:
    """Begin linking a provider to this account; send the browser to ``authorization_url``."""
    await service.require_recent_sign_in(identity)
    return_to = body.return_to if body and body.return_to else LINK_LANDING
    begun = await social.begin(
        provider_id=provider,
        return_to=safe_return_to(return_to),
        browser=browser,
        link_user_id=identity.user_id,
    )
    remember_browser(response, begun, settings)
    response.headers.update(NO_STORE)
    return LinkStarted(authorization_url=begun.authorization_url)
