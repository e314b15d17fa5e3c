"""Settings of the auth service (prefix ``AUTH_``; shared ones unprefixed)."""

from pydantic_settings import SettingsConfigDict

from shared.settings import ServiceSettings


class Settings(ServiceSettings):
    model_config = SettingsConfigDict(env_prefix="AUTH_", extra="ignore", populate_by_name=True)

    service_name: str = "auth"
    port: int = 8001
