"""The browser flow's cookies: the refresh token (HttpOnly) and its CSRF token (readable).

Both are SameSite=Strict. The refresh cookie only travels to ``/api/v1/auth``; the CSRF cookie
is on ``/`` because the page's scripts read it to send it back as ``X-CSRF-Token``.
"""

from starlette.responses import Response

REFRESH_COOKIE = "refresh_token"
CSRF_COOKIE = "csrf_token"
CSRF_HEADER = "X-CSRF-Token"
REFRESH_COOKIE_PATH = "/api/v1/auth"
CSRF_COOKIE_PATH = "/"


def set_session_cookies(
    response: Response, *, refresh_token: str, csrf_token: str, secure: bool, max_age: int
) -> None:
    response.set_cookie(
        REFRESH_COOKIE,
        refresh_token,
        max_age=max_age,
        path=REFRESH_COOKIE_PATH,
        secure=secure,
        httponly=True,
        samesite="strict",
    )
    response.set_cookie(
        CSRF_COOKIE,
        csrf_token,
        max_age=max_age,
        path=CSRF_COOKIE_PATH,
        secure=secure,
        httponly=False,
        samesite="strict",
    )


def clear_session_cookies(response: Response, *, secure: bool) -> None:
    response.delete_cookie(
        REFRESH_COOKIE, path=REFRESH_COOKIE_PATH, secure=secure, httponly=True, samesite="strict"
    )
    response.delete_cookie(CSRF_COOKIE, path=CSRF_COOKIE_PATH, secure=secure, samesite="strict")


# Binds a social sign-in flow to the browser that began it. SameSite=Lax, not Strict: the
# provider sends the browser back with a cross-site top-level GET, which Lax cookies survive.
OIDC_BROWSER_COOKIE = "oidc_browser"
OIDC_COOKIE_PATH = "/api/v1/auth/oidc"


def set_oidc_browser_cookie(response: Response, *, value: str, secure: bool, max_age: int) -> None:
    response.set_cookie(
        OIDC_BROWSER_COOKIE,
        value,
        max_age=max_age,
        path=OIDC_COOKIE_PATH,
        secure=secure,
        httponly=True,
        samesite="lax",
    )
