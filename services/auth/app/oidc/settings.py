"""The providers social sign-in may use, as ``AUTH_OIDC_PROVIDERS`` lists them (JSON).

``[{"id": "google", "name": "Google", "issuer": "https://accounts.google.com",
"client_id": "...", "client_secret": "..."}]``; optional ``scopes`` (default
``openid email profile``), ``token_endpoint_auth_method`` (``client_secret_basic``, or
``client_secret_post``) and ``leeway_seconds`` (30). Every endpoint is found through the
issuer's discovery document.
"""

from ipaddress import ip_address
from typing import Annotated, Literal
from urllib.parse import urlsplit

from pydantic import BaseModel, ConfigDict, Field, SecretStr, StringConstraints, field_validator

ProviderId = Annotated[str, StringConstraints(pattern=r"^[a-z0-9][a-z0-9_-]{0,31}$")]
PLACEHOLDER_SECRETS = ("changeme", "change-me", "change_me", "placeholder", "your-secret")


def is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ip_address(host).is_loopback
    except ValueError:
        return False


def check_web_origin_url(url: str, *, name: str) -> str:
    """An absolute https URL (http only on loopback, for the local stack), no query or fragment."""
    parts = urlsplit(url)
    host = parts.hostname or ""
    if parts.scheme not in ("https", "http") or not host:
        raise ValueError(f"{name} must be an absolute http(s) URL")
    if parts.scheme == "http" and not is_loopback(host):
        raise ValueError(f"{name} must use https (plain http only on localhost)")
    if parts.query or parts.fragment or parts.username or parts.password:
        raise ValueError(f"{name} must not carry credentials, a query or a fragment")
    return url


class OidcProvider(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    id: ProviderId
    name: Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=64)]
    issuer: str
    client_id: Annotated[str, StringConstraints(min_length=1, max_length=512)]
    client_secret: SecretStr
    scopes: str = "openid email profile"
    token_endpoint_auth_method: Literal["client_secret_basic", "client_secret_post"] = (
        "client_secret_basic"  # noqa: S105 - a method's name, not a secret
    )
    # Seconds of clock difference accepted on the id_token's exp and iat.
    leeway_seconds: int = Field(default=30, ge=0, le=300)

    @field_validator("issuer")
    @classmethod
    def _issuer_is_a_web_url(cls, value: str) -> str:
        return check_web_origin_url(value, name="issuer")

    @field_validator("client_secret")
    @classmethod
    def _secret_is_real(cls, value: SecretStr) -> SecretStr:
        raw = value.get_secret_value()
        if not raw.strip() or any(marker in raw.lower() for marker in PLACEHOLDER_SECRETS):
            raise ValueError("client_secret is empty or a placeholder")
        return value

    @field_validator("scopes")
    @classmethod
    def _asks_for_openid(cls, value: str) -> str:
        if "openid" not in value.split():
            raise ValueError("scopes must include openid")
        return value

    @property
    def discovery_url(self) -> str:
        return f"{self.issuer.rstrip('/')}/.well-known/openid-configuration"


def unique_ids(providers: list[OidcProvider]) -> list[OidcProvider]:
    ids = [provider.id for provider in providers]
    if len(ids) != len(set(ids)):
        raise ValueError("provider ids must be unique")
    return providers
