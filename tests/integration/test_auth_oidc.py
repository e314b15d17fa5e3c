"""Social sign-in through the gateway, against the stack's real OpenID provider.

Every flow is driven over HTTP as a browser would: authorize at the gateway, the provider's
login form filled in and posted, the provider's redirect followed back to the callback.
"""

import asyncio
import secrets
import time
import uuid
from collections.abc import AsyncIterator, Iterator
from typing import Any

import httpx
import pytest
from joserfc import jwt
from joserfc.jwk import OctKey, RSAKey
from prometheus_client.parser import text_string_to_metric_families
from pymongo import AsyncMongoClient

from tests.integration.harness import System
from tests.integration.oidc_support import (
    RECENT_SIGN_IN_SECONDS,
    Browser,
    OidcSystem,
    provider_url,
    query_of,
    start_oidc_system,
)
from tests.support.accounts import bearer, login, new_password, register
from tests.support.secrets import remember

pytestmark = pytest.mark.integration
OIDC = "/api/v1/auth/oidc"


@pytest.fixture(scope="module")
def oidc(system: System) -> Iterator[OidcSystem]:
    yield from start_oidc_system(system)


@pytest.fixture
async def browser(oidc: OidcSystem) -> AsyncIterator[Browser]:
    opened = Browser(oidc)
    yield opened
    await opened.aclose()


@pytest.fixture
async def other_browser(oidc: OidcSystem) -> AsyncIterator[Browser]:
    opened = Browser(oidc)
    yield opened
    await opened.aclose()


def person() -> tuple[str, str]:
    """A fresh provider subject and email."""
    tag = uuid.uuid4().hex[:12]
    return f"subject-{tag}", f"person-{tag}@example.test"


async def stored(oidc: OidcSystem, collection: str, query: dict[str, Any]) -> int:
    database = oidc.mongo_url.rsplit("/", 1)[1]
    client: AsyncMongoClient[dict[str, Any]] = AsyncMongoClient(oidc.mongo_url)
    try:
        return await client[database][collection].count_documents(query)
    finally:
        await client.close()


async def nothing_stored_for(oidc: OidcSystem, *, provider: str, subject: str, email: str) -> None:
    assert await stored(oidc, "user_emails", {"_id": email}) == 0
    assert await stored(oidc, "identities", {"provider": provider, "subject": subject}) == 0


async def me(browser: Browser) -> dict[str, Any]:
    token = await browser.access_token()
    response = await browser.http.get(f"{browser.oidc.url}/api/v1/auth/me", headers=bearer(token))
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    return body


def assert_signin_error(response: httpx.Response, code: str) -> None:
    assert response.status_code == 302, response.text
    assert response.headers["location"] == f"/signin?error={code}"
    assert "refresh_token" not in response.cookies


async def test_providers_are_listed_without_credentials(oidc: OidcSystem) -> None:
    async with httpx.AsyncClient(base_url=oidc.url) as client:
        response = await client.get(f"{OIDC}/providers")
    assert response.status_code == 200, response.text
    assert response.json() == {
        "items": [
            {"id": "google", "name": "Google"},
            {"id": "github", "name": "GitHub"},
            {"id": "forge", "name": "Forge"},
        ]
    }
    assert "ratelimit-policy" in response.headers  # limited per address like login


async def test_authorize_asks_for_a_code_with_state_nonce_and_pkce(browser: Browser) -> None:
    response = await browser.http.get(f"{browser.oidc.url}{OIDC}/google/authorize")

    assert response.status_code == 302
    location = httpx.URL(response.headers["location"])
    query = query_of(location)
    remember(*query.values())
    assert str(location).startswith(f"{provider_url()}/google/authorize?")
    assert query["response_type"] == "code"
    assert query["client_id"] == "taskstream-google"
    assert query["redirect_uri"] == f"{browser.oidc.url}{OIDC}/google/callback"
    assert query["code_challenge_method"] == "S256"
    assert len(query["code_challenge"]) == 43
    assert len(query["state"]) >= 32
    assert len(query["nonce"]) >= 32
    assert "openid" in query["scope"].split()
    cookie = response.headers["set-cookie"].lower()
    for part in ("oidc_browser=", "httponly", "samesite=lax", "path=/api/v1/auth/oidc"):
        assert part in cookie


async def test_unknown_provider_is_a_404_problem(browser: Browser) -> None:
    response = await browser.http.get(f"{browser.oidc.url}{OIDC}/nosuch/authorize")
    assert response.status_code == 404
    assert response.headers["content-type"] == "application/problem+json"


async def test_first_sign_in_creates_an_account_and_sets_the_session_cookies(
    browser: Browser, oidc: OidcSystem
) -> None:
    subject, email = person()
    response = await browser.sign_in(
        "google",
        subject=subject,
        return_to="/tasks?view=week",
        email=email.upper(),
        email_verified=True,
        name="Ada Lovelace",
    )

    assert response.status_code == 302, response.text
    assert response.headers["location"] == "/tasks?view=week"
    refresh, csrf = response.cookies.get("refresh_token"), response.cookies.get("csrf_token")
    assert refresh
    assert csrf
    assert refresh not in response.headers["location"]
    set_cookies = " ".join(response.headers.get_list("set-cookie")).lower()
    assert "httponly" in set_cookies
    assert "samesite=strict" in set_cookies
    account = await me(browser)
    assert account["email"] == email
    assert account["name"] == "Ada Lovelace"
    assert await signins(oidc, "google", "created") >= 1

    again = await browser.sign_in("google", subject=subject, email=email, email_verified=True)
    assert again.headers["location"] == "/"
    assert (await me(browser))["id"] == account["id"]  # the same account, not a second one


async def signins(oidc: OidcSystem, provider: str, outcome: str) -> float:
    async with httpx.AsyncClient(base_url=oidc.auth.url) as client:
        text = (await client.get("/metrics")).text
    return sum(
        sample.value
        for family in text_string_to_metric_families(text)
        for sample in family.samples
        if sample.name == "auth_social_signins_total"
        and sample.labels == {"provider": provider, "outcome": outcome}
    )


async def test_a_state_is_used_once(browser: Browser) -> None:
    subject, email = person()
    authorize = await browser.begin("github")
    callback = await browser.sign_in_at_provider(
        authorize, subject=subject, email=email, email_verified=True
    )
    assert (await browser.land(callback)).headers["location"] == "/"

    assert_signin_error(await browser.land(callback), "invalid_state")


async def test_a_state_from_another_browser_is_refused_and_not_burnt(
    browser: Browser, other_browser: Browser, oidc: OidcSystem
) -> None:
    subject, email = person()
    await other_browser.begin("google")  # it has a binding cookie of its own
    authorize = await browser.begin("google")
    callback = await browser.sign_in_at_provider(
        authorize, subject=subject, email=email, email_verified=True
    )

    assert_signin_error(await other_browser.land(callback), "invalid_state")
    await nothing_stored_for(oidc, provider="google", subject=subject, email=email)

    assert (await browser.land(callback)).headers["location"] == "/"


async def test_a_provider_error_ends_on_the_sign_in_page_and_burns_the_state(
    browser: Browser,
) -> None:
    query = query_of(await browser.begin("google"))
    callback = f"{browser.oidc.url}{OIDC}/google/callback"
    refused = {"error": "access_denied", "error_description": "no", "state": query["state"]}

    assert_signin_error(
        await browser.land(f"{callback}?{httpx.QueryParams(refused)}"), "access_denied"
    )

    retried = {"code": "whatever", "state": query["state"]}
    assert_signin_error(
        await browser.land(f"{callback}?{httpx.QueryParams(retried)}"), "invalid_state"
    )


@pytest.mark.parametrize("return_to", ["https://evil.example", "//evil.example", "/\\evil.example"])
async def test_foreign_return_to_ends_on_the_home_page(browser: Browser, return_to: str) -> None:
    subject, email = person()
    response = await browser.sign_in(
        "google", subject=subject, return_to=return_to, email=email, email_verified=True
    )
    assert response.status_code == 302
    assert response.headers["location"] == "/"


async def test_an_existing_email_is_not_linked_silently(browser: Browser, oidc: OidcSystem) -> None:
    async with httpx.AsyncClient(base_url=oidc.url, timeout=30) as client:
        email, password, _ = await register(client)
        subject = f"subject-{uuid.uuid4().hex[:12]}"

        response = await browser.sign_in(
            "google", subject=subject, email=email, email_verified=True
        )

        assert_signin_error(response, "account_exists")
        assert await stored(oidc, "identities", {"provider": "google", "subject": subject}) == 0
        token = await login(client, email, password)
        linked = await client.get("/api/v1/auth/identities", headers=bearer(token))
        assert linked.json() == {"items": []}


async def test_an_unverified_email_creates_nothing(browser: Browser, oidc: OidcSystem) -> None:
    subject, email = person()
    response = await browser.sign_in("github", subject=subject, email=email, email_verified=False)

    assert_signin_error(response, "email_unverified")
    await nothing_stored_for(oidc, provider="github", subject=subject, email=email)


async def password_account(oidc: OidcSystem) -> tuple[str, str, str, str]:
    """A registered user, signed in: (email, password, user id, access token)."""
    async with httpx.AsyncClient(base_url=oidc.url, timeout=30) as client:
        email, password, user_id = await register(client)
        return email, password, user_id, await login(client, email, password)


async def identities(browser: Browser, token: str) -> list[dict[str, Any]]:
    url = f"{browser.oidc.url}/api/v1/auth/identities"
    response = await browser.http.get(url, headers=bearer(token))
    assert response.status_code == 200, response.text
    items: list[dict[str, Any]] = response.json()["items"]
    return items


async def link(browser: Browser, provider: str, token: str, subject: str) -> httpx.Response:
    """Start linking with the bearer token, sign in at the provider, land on the callback."""
    url = f"{browser.oidc.url}{OIDC}/{provider}/link"
    started = await browser.http.post(url, headers=bearer(token))
    assert started.status_code == 200, started.text
    authorize = httpx.URL(started.json()["authorization_url"])
    remember(*query_of(authorize).values())
    callback = await browser.sign_in_at_provider(authorize, subject=subject, email="x@other.test")
    return await browser.land(callback)


async def test_linking_attaches_the_identity_to_the_signed_in_account(
    browser: Browser, other_browser: Browser, oidc: OidcSystem
) -> None:
    _, _, user_id, token = await password_account(oidc)
    subject = f"subject-{uuid.uuid4().hex[:12]}"

    landed = await link(browser, "github", token, subject)

    assert landed.status_code == 302
    assert landed.headers["location"] == "/settings/accounts"
    assert "refresh_token" not in landed.cookies
    linked = await identities(browser, token)
    assert [(item["provider"], item["subject"]) for item in linked] == [("github", subject)]
    assert set(linked[0]) == {"id", "provider", "subject", "email", "created_at"}
    # The linked provider now signs in to that same account, whatever email it reports.
    signed_in = await other_browser.sign_in("github", subject=subject)
    assert signed_in.headers["location"] == "/"
    assert (await me(other_browser))["id"] == user_id


async def test_an_identity_of_another_account_is_not_linked(
    browser: Browser, other_browser: Browser, oidc: OidcSystem
) -> None:
    subject, email = person()
    await other_browser.sign_in("google", subject=subject, email=email, email_verified=True)
    _, _, _, token = await password_account(oidc)

    assert_signin_error(await link(browser, "google", token, subject), "identity_in_use")
    assert await identities(browser, token) == []


async def test_linking_needs_a_signed_in_session(browser: Browser) -> None:
    response = await browser.http.post(f"{browser.oidc.url}{OIDC}/google/link")
    assert response.status_code == 401
    assert response.headers["www-authenticate"].startswith("Bearer")


async def test_linking_or_a_first_password_needs_a_recent_sign_in(
    browser: Browser, oidc: OidcSystem
) -> None:
    """A stolen access token must not add a way into the account once its session is old."""
    subject, email = person()
    await browser.sign_in("google", subject=subject, email=email, email_verified=True)
    await asyncio.sleep(RECENT_SIGN_IN_SECONDS + 1)
    token = await browser.access_token()  # a fresh token of the same, now old, session

    linking = await browser.http.post(f"{oidc.url}{OIDC}/github/link", headers=bearer(token))
    assert linking.status_code == 403, linking.text
    assert "Sign in again" in linking.json()["detail"]
    await set_password(browser, token, {"new_password": new_password()}, expect=403)

    await browser.sign_in("google", subject=subject, email=email, email_verified=True)
    fresh = await browser.access_token()
    await set_password(browser, fresh, {"new_password": new_password()}, expect=204)


async def test_the_last_way_to_sign_in_cannot_be_unlinked_until_a_password_is_set(
    browser: Browser, other_browser: Browser, oidc: OidcSystem
) -> None:
    subject, email = person()
    await browser.sign_in("google", subject=subject, email=email, email_verified=True)
    token = await browser.access_token()
    (only,) = await identities(browser, token)
    unlink_url = f"{oidc.url}/api/v1/auth/identities/{only['id']}"

    refused = await browser.http.delete(unlink_url, headers=bearer(token))
    assert refused.status_code == 409, refused.text
    assert refused.headers["content-type"] == "application/problem+json"
    assert len(await identities(browser, token)) == 1

    password = new_password()
    await set_password(browser, token, {"new_password": password}, expect=204)
    # Setting it ended every other session; this one goes on.
    assert (await browser.http.delete(unlink_url, headers=bearer(token))).status_code == 204
    assert await identities(browser, token) == []
    async with httpx.AsyncClient(base_url=oidc.url, timeout=30) as client:
        assert await login(client, email, password)


async def set_password(
    browser: Browser, token: str, body: dict[str, str], *, expect: int
) -> httpx.Response:
    url = f"{browser.oidc.url}/api/v1/auth/password"
    response = await browser.http.post(url, json=body, headers=bearer(token))
    assert response.status_code == expect, response.text
    return response


async def test_a_provider_only_account_sets_a_password_and_other_sessions_end(
    browser: Browser, other_browser: Browser, oidc: OidcSystem
) -> None:
    subject, email = person()
    await browser.sign_in("github", subject=subject, email=email, email_verified=True)
    await other_browser.sign_in("github", subject=subject, email=email, email_verified=True)
    token = await browser.access_token()
    other_token = await other_browser.access_token()
    async with httpx.AsyncClient(base_url=oidc.url, timeout=30) as client:
        no_password = await client.post(
            "/api/v1/auth/login", json={"email": email, "password": "anything-at-all"}
        )
        assert no_password.status_code == 401

        password = new_password()
        await set_password(browser, token, {"new_password": password}, expect=204)

        assert await login(client, email, password)
    me_url = f"{oidc.url}/api/v1/auth/me"
    assert (await other_browser.http.get(me_url, headers=bearer(other_token))).status_code == 401
    assert (await browser.http.get(me_url, headers=bearer(token))).status_code == 200
    # From now on a change needs the current password.
    newer = new_password()
    await set_password(browser, token, {"new_password": newer}, expect=403)
    wrong = {"new_password": newer, "current_password": "not-the-password"}
    await set_password(browser, token, wrong, expect=403)
    await set_password(
        browser, token, {"new_password": newer, "current_password": password}, expect=204
    )
    await set_password(browser, token, {"new_password": "short"}, expect=422)


def forged_token(oidc: OidcSystem, flow_nonce: str, **changes: Any) -> str:
    """An id_token from the forge issuer; ``changes`` override claims, ``key``/``header`` too."""
    key = changes.pop("key", oidc.forge.key)
    header = {"alg": "RS256", "kid": "f1", **changes.pop("header", {})}
    now = int(time.time())
    claims = {
        "iss": oidc.forge.issuer,
        "aud": "taskstream-forge",
        "sub": changes.pop("sub"),
        "email": changes.pop("email"),
        "email_verified": True,
        "iat": now,
        "exp": now + 300,
        "nonce": flow_nonce,
        **changes,
    }
    token = jwt.encode(header, {k: v for k, v in claims.items() if v is not None}, key)
    remember(token)
    return token


async def forged_sign_in(browser: Browser, **changes: Any) -> httpx.Response:
    """A flow with the forge issuer whose token endpoint returns the token we made."""
    oidc = browser.oidc
    query = query_of(await browser.begin("forge"))
    code = secrets.token_urlsafe(16)
    remember(code)
    oidc.forge.tokens[code] = forged_token(oidc, query["nonce"], **changes)
    return await browser.land(browser.forged_callback(query, code))


async def test_a_correct_forged_token_signs_in(browser: Browser, oidc: OidcSystem) -> None:
    """The control case: the forge path itself works, so the refusals below mean something."""
    subject, email = person()
    response = await forged_sign_in(browser, sub=subject, email=email)

    assert response.headers["location"] == "/"
    assert (await me(browser))["email"] == email
    form = oidc.forge.token_forms[-1]
    assert form["grant_type"] == ["authorization_code"]
    assert len(form["code_verifier"][0]) >= 43  # PKCE: the verifier goes with the code


OTHER_KEY = RSAKey.generate_key(2048, parameters={"kid": "f1"})


@pytest.mark.parametrize(
    "defect",
    [
        pytest.param({"aud": "someone-else"}, id="wrong-aud"),
        pytest.param({"exp": int(time.time()) - 600}, id="expired"),
        pytest.param({"nonce": "not-the-nonce"}, id="wrong-nonce"),
        pytest.param({"key": OTHER_KEY}, id="signed-by-another-key"),
        pytest.param({"key": OTHER_KEY, "header": {"kid": "f9"}}, id="unknown-kid"),
        pytest.param({"iss": "http://127.0.0.1:1/evil"}, id="wrong-iss"),
        pytest.param({"aud": ["taskstream-forge", "x"], "azp": "x"}, id="azp-of-another"),
        pytest.param({"key": OctKey.import_key(b"k" * 32), "header": {"alg": "HS256"}}, id="hmac"),
    ],
)
async def test_a_bad_id_token_signs_nobody_in_and_creates_nothing(
    browser: Browser, oidc: OidcSystem, defect: dict[str, Any]
) -> None:
    subject, email = person()
    changes = dict(defect)
    if "exp" in changes:
        changes["iat"] = changes["exp"] - 300
    response = await forged_sign_in(browser, sub=subject, email=email, **changes)

    assert_signin_error(response, "invalid_token")
    await nothing_stored_for(oidc, provider="forge", subject=subject, email=email)
