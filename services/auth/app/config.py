"""Settings of the auth service (prefix ``AUTH_``; shared ones unprefixed)."""

import os
from pathlib import Path
from typing import Annotated, Self

from pydantic import AfterValidator, Field, model_validator
from pydantic_settings import SettingsConfigDict

from services.auth.app.oidc.settings import OidcProvider, check_web_origin_url, unique_ids
from shared.settings import ServiceSettings

# OWASP's minimum for argon2id: 19 MiB of memory, 2 passes, 1 lane.
OWASP_MIN_MEMORY_KIB = 19 * 1024
OWASP_MIN_TIME_COST = 2


class Settings(ServiceSettings):
    model_config = SettingsConfigDict(env_prefix="AUTH_", extra="ignore", populate_by_name=True)

    service_name: str = "auth"
    port: int = 8001
    # Every replica must see the same directory (a shared volume) or get the same key files.
    keys_dir: Path = Path(".local/auth-keys")
    access_token_ttl_seconds: int = Field(default=900, ge=60, le=86_400)
    refresh_token_ttl_seconds: int = Field(default=30 * 86_400, ge=300)
    refresh_reuse_grace_seconds: float = Field(default=2.0, ge=0, le=60)
    cookie_secure: bool = True
    # Per (account, client address): a stranger's failures never lock the owner out.
    login_max_failures_per_account: int = Field(default=10, ge=1)
    login_max_failures_per_address: int = Field(default=50, ge=1)
    login_failure_window_seconds: int = Field(default=900, ge=1)
    # Failures at one account from all addresses together past which each one is slowed.
    login_account_flood_threshold: int = Field(default=100, ge=1)
    login_flood_delay_seconds: float = Field(default=1.0, ge=0, le=10)
    # Creating an API key needs a sign-in this recent, or the password in the request.
    api_key_recent_auth_seconds: int = Field(default=600, ge=0)
    argon2_memory_kib: int = Field(default=OWASP_MIN_MEMORY_KIB, ge=OWASP_MIN_MEMORY_KIB)
    argon2_time_cost: int = Field(default=OWASP_MIN_TIME_COST, ge=OWASP_MIN_TIME_COST)
    argon2_parallelism: int = Field(default=1, ge=1)
    # Threads that run argon2, each holding argon2_memory_kib while it hashes; more threads
    # than cores would only make every login slower (containers: set it to the CPU quota).
    hashing_threads: int = Field(default_factory=lambda: min(os.cpu_count() or 2, 4), ge=1, le=64)
    cleanup_interval_seconds: float = Field(default=300, gt=0)
    api_key_max_per_user: int = Field(default=100, ge=1)
    # Linking a provider, or giving a provider-only account a password, needs a session
    # signed in this recently: a stolen access token must not open a second way in.
    recent_sign_in_seconds: int = Field(default=600, ge=1)
    # Social sign-in (docs: services/auth/README.md). AUTH_OIDC_PROVIDERS is a JSON list.
    oidc_providers: Annotated[list[OidcProvider], AfterValidator(unique_ids)] = []
    # Where browsers reach the gateway (scheme, host, port): the providers redirect to
    # <public_url>/api/v1/auth/oidc/<id>/callback, which must be registered with each of them.
    public_url: str | None = None
    oidc_flow_ttl_seconds: int = Field(default=600, ge=60, le=3600)
    oidc_discovery_ttl_seconds: float = Field(default=3600, gt=0)
    oidc_jwks_min_refetch_seconds: float = Field(default=30, ge=0)
    oidc_http_timeout_seconds: float = Field(default=5, gt=0, le=60)

    @model_validator(mode="after")
    def _providers_need_a_public_url(self) -> Self:
        if self.oidc_providers:
            if self.public_url is None:
                raise ValueError("AUTH_PUBLIC_URL is required when AUTH_OIDC_PROVIDERS is set")
            check_web_origin_url(self.public_url, name="AUTH_PUBLIC_URL")
        return self

    def oidc_redirect_uri(self, provider_id: str) -> str:
        base = (self.public_url or "").rstrip("/")
        return f"{base}/api/v1/auth/oidc/{provider_id}/callback"
