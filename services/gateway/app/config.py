"""Settings of the gateway service (prefix ``GATEWAY_``; shared ones unprefixed)."""

from pathlib import Path

from pydantic import Field, field_validator
from pydantic_settings import SettingsConfigDict

from shared.settings import CsvList, ServiceSettings, split_csv


class Settings(ServiceSettings):
    model_config = SettingsConfigDict(env_prefix="GATEWAY_", extra="ignore", populate_by_name=True)

    service_name: str = "gateway"
    port: int = 8000

    auth_urls: CsvList = Field(default_factory=lambda: ["http://127.0.0.1:8001"])
    tasks_urls: CsvList = Field(default_factory=lambda: ["http://127.0.0.1:8002"])
    search_urls: CsvList = Field(default_factory=lambda: ["http://127.0.0.1:8003"])
    cors_origins: CsvList = Field(default_factory=list)

    user_rate_per_second: float = Field(default=50.0, gt=0)
    user_burst: int = Field(default=100, ge=1)
    public_rate_per_second: float = Field(default=10.0, gt=0)
    public_burst: int = Field(default=30, ge=1)

    upstream_connect_timeout_seconds: float = Field(default=2.0, gt=0)
    # Generous: a timed-out write may still land, and the client retrying it makes a duplicate.
    upstream_read_timeout_seconds: float = Field(default=30.0, gt=0)
    upstream_max_connections: int = Field(default=200, ge=1)
    # Passive health and circuit breaking, per replica.
    breaker_failure_threshold: int = Field(default=3, ge=1)
    breaker_cooldown_seconds: float = Field(default=5.0, gt=0)

    jwt_leeway_seconds: int = Field(default=10, ge=0)
    jwks_refresh_seconds: float = Field(default=300.0, gt=0)
    jwks_min_refetch_seconds: float = Field(default=10.0, ge=0)
    api_key_cache_seconds: float = Field(default=30.0, ge=0, le=30)
    redis_retry_seconds: float = Field(default=1.0, ge=0)

    max_body_bytes: int = Field(default=1024 * 1024, ge=1)
    max_url_bytes: int = Field(default=8192, ge=256)
    max_header_bytes: int = Field(default=16384, ge=1024)

    # The web app's build (``npm run build`` in web/), served at ``/``; see webapp.py.
    web_dist_dir: Path = Path(__file__).resolve().parents[3] / "web" / "dist"

    @field_validator("auth_urls", "tasks_urls", "search_urls", "cors_origins", mode="before")
    @classmethod
    def _split(cls, value: object) -> object:
        return split_csv(value)

    @field_validator("auth_urls", "tasks_urls", "search_urls")
    @classmethod
    def _at_least_one_replica(cls, value: list[str]) -> list[str]:
        if not value:
            raise ValueError("at least one upstream URL is required")
        return [url.rstrip("/") for url in value]
