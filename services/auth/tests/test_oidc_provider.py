"""The relying party's checks on one provider, against an in-process provider double.

The real provider (mock-oauth2-server) is exercised by tests/integration/test_auth_oidc.py;
here the double lets every id_token defect and every JWKS fetch be counted exactly.
"""

import base64
import hashlib
import time
from collections.abc import AsyncIterator
from typing import Any
from urllib.parse import parse_qs, urlsplit

import httpx2
import pytest
from joserfc import jwt
from joserfc.jwk import OctKey, RSAKey

from services.auth.app.oidc.provider import (
    InvalidIdToken,
    ProviderClient,
    ProviderUnavailable,
    open_http_client,
)
from services.auth.app.oidc.settings import OidcProvider

ISSUER = "https://idp.example.test/tenant"
CLIENT_ID = "taskstream"
SECRET = "a-client-secret-for-unit-tests-0123456789"
REDIRECT = "https://tasks.example.test/api/v1/auth/oidc/idp/callback"
NONCE = "n-0S6_WzA2Mj"


class ProviderDouble:
    """Discovery, JWKS and a token endpoint; counts what it is asked."""

    def __init__(self) -> None:
        self.keys = [RSAKey.generate_key(2048, parameters={"kid": "k1", "use": "sig"})]
        self.discovery_issuer = ISSUER
        self.jwks_fetches = 0
        self.token_forms: list[dict[str, list[str]]] = []
        self.id_token = ""

    def handle(self, request: httpx2.Request) -> httpx2.Response:
        path = request.url.path
        if path == "/tenant/.well-known/openid-configuration":
            return httpx2.Response(200, json=self.discovery())
        if path == "/tenant/jwks":
            self.jwks_fetches += 1
            public = [key.as_dict(private=False) for key in self.keys]
            return httpx2.Response(200, json={"keys": public})
        if path == "/tenant/token":
            self.token_forms.append(parse_qs(request.content.decode()))
            return httpx2.Response(200, json={"access_token": "at", "id_token": self.id_token})
        return httpx2.Response(404)

    def discovery(self) -> dict[str, Any]:
        base = "https://idp.example.test/tenant"
        return {
            "issuer": self.discovery_issuer,
            "authorization_endpoint": f"{base}/authorize",
            "token_endpoint": f"{base}/token",
            "jwks_uri": f"{base}/jwks",
            "id_token_signing_alg_values_supported": ["RS256", "HS256", "none"],
        }


def claims(**changes: Any) -> dict[str, Any]:
    now = int(time.time())
    base = {
        "iss": ISSUER,
        "aud": CLIENT_ID,
        "sub": "person-1",
        "iat": now,
        "exp": now + 300,
        "nonce": NONCE,
        "email": "Person@Example.test",
        "email_verified": True,
    }
    base.update(changes)
    return {key: value for key, value in base.items() if value is not None}


def signed(payload: dict[str, Any], key: RSAKey, kid: str = "k1") -> str:
    return jwt.encode({"alg": "RS256", "kid": kid}, payload, key)


class FakeClock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def double() -> ProviderDouble:
    return ProviderDouble()


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
async def client(double: ProviderDouble, clock: FakeClock) -> AsyncIterator[ProviderClient]:
    provider = OidcProvider(
        id="idp", name="IdP", issuer=ISSUER, client_id=CLIENT_ID, client_secret=SECRET
    )
    http = open_http_client(
        provider,
        redirect_uri=REDIRECT,
        timeout_seconds=5,
        transport=httpx2.MockTransport(double.handle),
    )
    async with http:
        yield ProviderClient(
            provider,
            http=http,
            discovery_ttl_seconds=3600,
            jwks_min_refetch_seconds=30,
            clock=clock,
        )


async def test_authorization_url_asks_for_a_code_with_pkce_s256(client: ProviderClient) -> None:
    verifier = "v" * 43
    url = await client.authorization_url(state="st", nonce=NONCE, code_verifier=verifier)

    parts = urlsplit(url)
    query = {name: values[0] for name, values in parse_qs(parts.query).items()}
    assert f"{parts.scheme}://{parts.netloc}{parts.path}" == f"{ISSUER}/authorize"
    challenge = base64.urlsafe_b64encode(hashlib.sha256(verifier.encode()).digest())
    assert query == {
        "response_type": "code",
        "client_id": CLIENT_ID,
        "redirect_uri": REDIRECT,
        "scope": "openid email profile",
        "state": "st",
        "nonce": NONCE,
        "code_challenge": challenge.rstrip(b"=").decode(),
        "code_challenge_method": "S256",
    }
    assert verifier not in url


async def test_the_code_is_exchanged_with_its_verifier_and_client_credentials(
    client: ProviderClient, double: ProviderDouble
) -> None:
    double.id_token = signed(claims(), double.keys[0])

    assert await client.exchange_code(code="c0de", code_verifier="v" * 43) == double.id_token

    (form,) = double.token_forms
    assert form["grant_type"] == ["authorization_code"]
    assert form["code"] == ["c0de"]
    assert form["code_verifier"] == ["v" * 43]
    assert form["redirect_uri"] == [REDIRECT]


async def test_a_good_id_token_gives_the_person(
    client: ProviderClient, double: ProviderDouble
) -> None:
    person = await client.verify_id_token(signed(claims(), double.keys[0]), nonce=NONCE)

    assert person.subject == "person-1"
    assert person.email == "Person@Example.test"
    assert person.email_verified


OTHER_KEY = RSAKey.generate_key(2048, parameters={"kid": "k1"})


@pytest.mark.parametrize(
    "token_for",
    [
        pytest.param(lambda key: signed(claims(aud="someone-else"), key), id="wrong-aud"),
        pytest.param(lambda key: signed(claims(iss="https://evil.example"), key), id="wrong-iss"),
        pytest.param(lambda key: signed(claims(nonce="other"), key), id="wrong-nonce"),
        pytest.param(lambda key: signed(claims(nonce=None), key), id="no-nonce"),
        pytest.param(lambda key: signed(claims(exp=int(time.time()) - 120), key), id="expired"),
        pytest.param(lambda key: signed(claims(sub=None), key), id="no-sub"),
        pytest.param(
            lambda key: signed(claims(aud=[CLIENT_ID, "other"]), key), id="several-aud-no-azp"
        ),
        pytest.param(lambda key: signed(claims(azp="other"), key), id="azp-of-another"),
        pytest.param(lambda key: signed(claims(), OTHER_KEY), id="same-kid-other-key"),
        pytest.param(
            lambda key: jwt.encode(
                {"alg": "HS256", "kid": "k1"}, claims(), OctKey.import_key(SECRET)
            ),
            id="hmac-with-client-secret",
        ),
        pytest.param(lambda key: "not.a.jwt", id="garbage"),
    ],
)
async def test_defective_id_tokens_are_refused(
    client: ProviderClient, double: ProviderDouble, token_for: Any
) -> None:
    with pytest.raises(InvalidIdToken):
        await client.verify_id_token(token_for(double.keys[0]), nonce=NONCE)


async def test_several_audiences_pass_when_azp_is_us(
    client: ProviderClient, double: ProviderDouble
) -> None:
    token = signed(claims(aud=[CLIENT_ID, "other"], azp=CLIENT_ID), double.keys[0])
    assert (await client.verify_id_token(token, nonce=NONCE)).subject == "person-1"


async def test_an_unknown_kid_refetches_the_keys_at_most_once_per_interval(
    client: ProviderClient, double: ProviderDouble, clock: FakeClock
) -> None:
    await client.verify_id_token(signed(claims(), double.keys[0]), nonce=NONCE)
    assert double.jwks_fetches == 1

    rotated = RSAKey.generate_key(2048, parameters={"kid": "k2", "use": "sig"})
    double.keys.append(rotated)
    clock.now += 31
    person = await client.verify_id_token(signed(claims(), rotated, kid="k2"), nonce=NONCE)
    assert person.subject == "person-1"
    assert double.jwks_fetches == 2

    for _ in range(5):  # made-up kids within the interval: no request reaches the provider
        with pytest.raises(InvalidIdToken):
            await client.verify_id_token(signed(claims(), rotated, kid="k9"), nonce=NONCE)
    assert double.jwks_fetches == 2


async def test_a_discovery_document_for_another_issuer_is_refused(
    client: ProviderClient, double: ProviderDouble
) -> None:
    double.discovery_issuer = "https://evil.example"
    with pytest.raises(ProviderUnavailable):
        await client.metadata()
