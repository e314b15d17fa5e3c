"""The browser flow's cookie attributes."""

import pytest
from starlette.responses import Response

from services.auth.app.cookies import clear_session_cookies, set_session_cookies


def cookie_headers(response: Response) -> dict[str, str]:
    headers = [v.decode() for k, v in response.raw_headers if k == b"set-cookie"]
    return {header.split("=", 1)[0]: header for header in headers}


def attributes(header: str) -> set[str]:
    return {part.strip().lower() for part in header.split(";")[1:]}


@pytest.mark.parametrize("secure", [True, False])
def test_login_cookies(secure: bool) -> None:
    response = Response()
    set_session_cookies(response, refresh_token="r", csrf_token="c", secure=secure, max_age=60)
    cookies = cookie_headers(response)
    refresh, csrf = attributes(cookies["refresh_token"]), attributes(cookies["csrf_token"])
    assert {"httponly", "samesite=strict", "path=/api/v1/auth", "max-age=60"} <= refresh
    assert {"samesite=strict", "path=/"} <= csrf
    assert "httponly" not in csrf
    assert ("secure" in refresh) is secure
    assert ("secure" in csrf) is secure


def test_clearing_expires_both_cookies_on_their_paths() -> None:
    response = Response()
    clear_session_cookies(response, secure=True)
    cookies = cookie_headers(response)
    assert "path=/api/v1/auth" in attributes(cookies["refresh_token"])
    assert "path=/" in attributes(cookies["csrf_token"])
    assert all("max-age=0" in attributes(header) for header in cookies.values())
