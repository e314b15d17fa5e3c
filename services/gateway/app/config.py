"""Settings of the gateway service (prefix ``GATEWAY_``; shared ones unprefixed)."""

from pathlib import Path

from pydantic import Field, field_validator
from pydantic_settings import SettingsConfigDict

from services.gateway.app.addresses import parse_networks
from shared.settings import CsvList, ServiceSettings, split_csv


class Settings(ServiceSettings):
    model_config = SettingsConfigDict(env_prefix="GATEWAY_", extra="ignore", populate_by_name=True)

    service_name: str = "gateway"
    port: int = 8000
    # Metrics and readiness details; loopback unless a deployment opens it to its scraper.
    ops_host: str = "127.0.0.1"
    ops_port: int = Field(default=8090, ge=1, le=65535)

    auth_urls: CsvList = Field(default_factory=lambda: ["http://127.0.0.1:8001"])
    tasks_urls: CsvList = Field(default_factory=lambda: ["http://127.0.0.1:8002"])
    search_urls: CsvList = Field(default_factory=lambda: ["http://127.0.0.1:8003"])
    cors_origins: CsvList = Field(default_factory=list)
    # Peers whose X-Forwarded-For names the client (CIDRs); empty: the socket peer is the client.
    trusted_proxies: CsvList = Field(default_factory=list)

    user_rate_per_second: float = Field(default=50.0, gt=0)
    user_burst: int = Field(default=100, ge=1)
    public_rate_per_second: float = Field(default=10.0, gt=0)
    public_burst: int = Field(default=30, ge=1)
    # Invalid credentials per client address and window before 429 without any lookup.
    invalid_credentials_per_address: int = Field(default=20, ge=1)
    invalid_credentials_window_seconds: int = Field(default=60, ge=1)

    upstream_connect_timeout_seconds: float = Field(default=2.0, gt=0)
    # Generous: a timed-out write may still land, and the client retrying it makes a duplicate.
    upstream_read_timeout_seconds: float = Field(default=30.0, gt=0)
    # Per upstream service; a request waits at most upstream_pool_wait_seconds for one (503).
    upstream_max_connections: int = Field(default=200, ge=1)
    upstream_pool_wait_seconds: float = Field(default=2.0, gt=0)
    # Long-lived responses (the live event stream) have their own budget per service, so open
    # streams never take the connections ordinary requests wait for.
    upstream_max_streams: int = Field(default=1000, ge=1)
    # Passive health and circuit breaking, per replica.
    breaker_failure_threshold: int = Field(default=3, ge=1)
    breaker_cooldown_seconds: float = Field(default=5.0, gt=0)

    jwt_leeway_seconds: int = Field(default=10, ge=0)
    jwks_refresh_seconds: float = Field(default=300.0, gt=0)
    jwks_min_refetch_seconds: float = Field(default=10.0, ge=0)
    api_key_cache_seconds: float = Field(default=30.0, ge=0, le=30)
    redis_retry_seconds: float = Field(default=1.0, ge=0)

    max_body_bytes: int = Field(default=1024 * 1024, ge=1)
    # The whole body must arrive within this, or 408; nothing is forwarded before it has.
    body_read_timeout_seconds: float = Field(default=10.0, gt=0)
    max_url_bytes: int = Field(default=8192, ge=256)
    max_header_bytes: int = Field(default=16384, ge=1024)

    # Canary pools (pools.py, canary.py): none by default; the split comes from the flags.
    auth_canary_urls: CsvList = Field(default_factory=list)
    tasks_canary_urls: CsvList = Field(default_factory=list)
    search_canary_urls: CsvList = Field(default_factory=list)
    canary_min_requests: int = Field(default=50, ge=1)
    canary_max_error_rate_increase: float = Field(default=0.05, ge=0, le=1)
    canary_max_p99_ratio: float = Field(default=1.5, ge=1)
    canary_p99_slack_ms: float = Field(default=50.0, ge=0)
    canary_failed_checks: int = Field(default=3, ge=1)
    canary_window_seconds: float = Field(default=60.0, gt=0)
    canary_analysis_interval_seconds: float = Field(default=2.0, gt=0)

    # The web app's build (``npm run build`` in web/), served at ``/``; see webapp.py.
    web_dist_dir: Path = Path(__file__).resolve().parents[3] / "web" / "dist"

    def upstream_urls(self) -> list[str]:
        """Every replica URL the gateway may forward to, stable and canary."""
        return [
            *self.auth_urls,
            *self.tasks_urls,
            *self.search_urls,
            *self.auth_canary_urls,
            *self.tasks_canary_urls,
            *self.search_canary_urls,
        ]

    @field_validator(
        "auth_urls", "tasks_urls", "search_urls", "cors_origins", "trusted_proxies", mode="before"
    )
    @classmethod
    def _split(cls, value: object) -> object:
        return split_csv(value)

    @field_validator("auth_canary_urls", "tasks_canary_urls", "search_canary_urls", mode="before")
    @classmethod
    def _split_canary(cls, value: object) -> object:
        split = split_csv(value)
        return [url.rstrip("/") for url in split] if isinstance(split, list) else split

    @field_validator("auth_urls", "tasks_urls", "search_urls")
    @classmethod
    def _at_least_one_replica(cls, value: list[str]) -> list[str]:
        if not value:
            raise ValueError("at least one upstream URL is required")
        return [url.rstrip("/") for url in value]

    @field_validator("trusted_proxies")
    @classmethod
    def _cidrs(cls, value: list[str]) -> list[str]:
        parse_networks(value)  # fail at start-up on a malformed entry
        return value
