"""One OpenID provider as seen by the relying party: discovery, JWKS, code exchange, id_token.

Authlib's async OAuth 2.0 client builds the authorization URL (with the PKCE S256 challenge)
and exchanges the code; joserfc verifies the id_token. The discovery document and the JWKS are
cached; an id_token signed with a key id the cache does not know triggers one refetch of the
JWKS, at most every ``jwks_min_refetch_seconds``, so a provider's key rotation is picked up at
once and a flood of made-up key ids cannot turn into a flood of requests to the provider.
"""

import logging
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import httpx2
from authlib.integrations.httpx_client import AsyncOAuth2Client, OAuthError
from joserfc import jwt
from joserfc.errors import InvalidKeyIdError, JoseError
from joserfc.jwk import KeySet

from services.auth.app.oidc.settings import OidcProvider

log = logging.getLogger("taskstream.auth.oidc")
# Asymmetric only: "none" and HMAC (keyed with the client secret) are never accepted.
ALLOWED_ALGORITHMS = (
    "RS256", "RS384", "RS512", "PS256", "PS384", "PS512", "ES256", "ES384", "ES512", "EdDSA",
)  # fmt: skip
DEFAULT_ALGORITHMS = ("RS256",)  # what OpenID Connect Discovery says to assume
ENDPOINTS = ("authorization_endpoint", "token_endpoint", "jwks_uri")


class ProviderUnavailable(Exception):
    """The provider did not answer, or answered with something that is not usable."""


class CodeRejected(Exception):
    """The token endpoint refused the authorization code (expired, reused, wrong verifier)."""


class InvalidIdToken(Exception):
    """The id_token failed a check: signature, iss, aud, azp, exp, iat, nonce or sub."""


@dataclass(frozen=True)
class ProviderMetadata:
    issuer: str
    authorization_endpoint: str
    token_endpoint: str
    jwks_uri: str
    algorithms: tuple[str, ...]

    @classmethod
    def from_discovery(cls, document: dict[str, Any], *, issuer: str) -> "ProviderMetadata":
        # OpenID Connect Discovery 1.0 section 4.3: the document must name the issuer we asked.
        if document.get("issuer") != issuer:
            raise ProviderUnavailable("the discovery document names another issuer")
        missing = [name for name in ENDPOINTS if not isinstance(document.get(name), str)]
        if missing:
            raise ProviderUnavailable(f"the discovery document lacks {', '.join(missing)}")
        offered = document.get("id_token_signing_alg_values_supported") or DEFAULT_ALGORITHMS
        algorithms = tuple(alg for alg in ALLOWED_ALGORITHMS if alg in offered)
        return cls(
            issuer=issuer,
            authorization_endpoint=document["authorization_endpoint"],
            token_endpoint=document["token_endpoint"],
            jwks_uri=document["jwks_uri"],
            algorithms=algorithms or DEFAULT_ALGORITHMS,
        )


@dataclass(frozen=True)
class VerifiedIdentity:
    """What a verified id_token says about the person signing in."""

    subject: str
    email: str | None
    email_verified: bool
    name: str | None

    @classmethod
    def from_claims(cls, claims: dict[str, Any]) -> "VerifiedIdentity":
        email, name = claims.get("email"), claims.get("name")
        # Some providers send the boolean as a string.
        verified = claims.get("email_verified") in (True, "true")
        return cls(
            subject=claims["sub"],
            email=email if isinstance(email, str) else None,
            email_verified=verified,
            name=name if isinstance(name, str) else None,
        )


class ProviderClient:
    """Talks to one provider over one pooled HTTP client (opened and closed by the lifespan)."""

    def __init__(
        self,
        provider: OidcProvider,
        *,
        http: AsyncOAuth2Client,
        discovery_ttl_seconds: float,
        jwks_min_refetch_seconds: float,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.provider = provider
        self.http = http
        self.discovery_ttl_seconds = discovery_ttl_seconds
        self.jwks_min_refetch_seconds = jwks_min_refetch_seconds
        self.clock = clock
        self._metadata: ProviderMetadata | None = None
        self._metadata_until = 0.0
        self._keys: KeySet | None = None
        self._keys_fetched_at = float("-inf")

    async def metadata(self) -> ProviderMetadata:
        if self._metadata is None or self.clock() >= self._metadata_until:
            document = await self._get_json(self.provider.discovery_url)
            self._metadata = ProviderMetadata.from_discovery(document, issuer=self.provider.issuer)
            self._metadata_until = self.clock() + self.discovery_ttl_seconds
        return self._metadata

    async def authorization_url(self, *, state: str, nonce: str, code_verifier: str) -> str:
        endpoint = (await self.metadata()).authorization_endpoint
        url, _ = self.http.create_authorization_url(
            endpoint, state=state, nonce=nonce, code_verifier=code_verifier
        )
        return str(url)

    async def exchange_code(self, *, code: str, code_verifier: str) -> str:
        """The id_token the token endpoint gives for ``code``."""
        endpoint = (await self.metadata()).token_endpoint
        try:
            token = await self.http.fetch_token(
                endpoint,
                grant_type="authorization_code",
                code=code,
                code_verifier=code_verifier,
            )
        except OAuthError as exc:
            # The provider's error code is safe to log; its description may echo the request.
            log.info("token endpoint refused the code", extra={"oauth_error": exc.error})
            raise CodeRejected(str(exc.error)) from None
        except (httpx2.HTTPError, ValueError) as exc:
            raise ProviderUnavailable(f"token endpoint: {type(exc).__name__}") from None
        id_token = token.get("id_token")
        if not isinstance(id_token, str):
            raise InvalidIdToken("the token response has no id_token")
        return id_token

    async def verify_id_token(self, id_token: str, *, nonce: str) -> VerifiedIdentity:
        metadata = await self.metadata()
        try:
            token = await self._decode(id_token, metadata)
            self._claims_registry(metadata, nonce).validate(token.claims)
        except (JoseError, ValueError, TypeError) as exc:
            raise InvalidIdToken(type(exc).__name__) from None
        claims = token.claims
        self._check_authorized_party(claims)
        return VerifiedIdentity.from_claims(claims)

    async def _decode(self, id_token: str, metadata: ProviderMetadata) -> jwt.Token:
        keys = await self._key_set(metadata, refresh=False)
        try:
            return jwt.decode(id_token, keys, algorithms=list(metadata.algorithms))
        except InvalidKeyIdError:
            keys = await self._key_set(metadata, refresh=True)
            return jwt.decode(id_token, keys, algorithms=list(metadata.algorithms))

    async def _key_set(self, metadata: ProviderMetadata, *, refresh: bool) -> KeySet:
        due = self.clock() - self._keys_fetched_at >= self.jwks_min_refetch_seconds
        if self._keys is None or (refresh and due):
            document = await self._get_json(metadata.jwks_uri)
            signing = [key for key in document.get("keys", []) if key.get("use") != "enc"]
            try:
                self._keys = KeySet.import_key_set({"keys": signing})
            except (JoseError, ValueError, TypeError) as exc:
                raise ProviderUnavailable(f"unusable JWKS: {type(exc).__name__}") from None
            self._keys_fetched_at = self.clock()
            log.info("provider keys fetched", extra={"provider": self.provider.id})
        return self._keys

    def _claims_registry(self, metadata: ProviderMetadata, nonce: str) -> jwt.JWTClaimsRegistry:
        return jwt.JWTClaimsRegistry(
            leeway=self.provider.leeway_seconds,
            iss={"essential": True, "value": metadata.issuer},
            aud={"essential": True, "value": self.provider.client_id},
            sub={"essential": True},
            exp={"essential": True},
            iat={"essential": True},
            nonce={"essential": True, "value": nonce},
        )

    def _check_authorized_party(self, claims: dict[str, Any]) -> None:
        """OpenID Connect Core 3.1.3.7: azp, when present or when aud lists others, is us."""
        audience, azp = claims.get("aud"), claims.get("azp")
        several = isinstance(audience, list) and len(audience) > 1
        if (several or azp is not None) and azp != self.provider.client_id:
            raise InvalidIdToken("azp")

    async def _get_json(self, url: str) -> dict[str, Any]:
        try:
            response = await self.http.request("GET", url, withhold_token=True)
            response.raise_for_status()
            document = response.json()
        except (httpx2.HTTPError, ValueError) as exc:
            raise ProviderUnavailable(f"{url}: {type(exc).__name__}") from None
        if not isinstance(document, dict):
            raise ProviderUnavailable(f"{url}: not a JSON object")
        return document


def open_http_client(
    provider: OidcProvider,
    *,
    redirect_uri: str,
    timeout_seconds: float,
    transport: httpx2.AsyncBaseTransport | None = None,
) -> AsyncOAuth2Client:
    """The provider's pooled client: it knows our client id, secret and redirect URI."""
    return AsyncOAuth2Client(
        client_id=provider.client_id,
        client_secret=provider.client_secret.get_secret_value(),
        token_endpoint_auth_method=provider.token_endpoint_auth_method,
        scope=provider.scopes,
        redirect_uri=redirect_uri,
        code_challenge_method="S256",
        timeout=timeout_seconds,
        follow_redirects=False,
        transport=transport,
    )
