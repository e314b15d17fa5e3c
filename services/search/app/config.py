"""Settings of the search service (prefix ``SEARCH_``; shared ones unprefixed)."""

from pydantic_settings import SettingsConfigDict

from shared.settings import ServiceSettings


class Settings(ServiceSettings):
    model_config = SettingsConfigDict(env_prefix="SEARCH_", extra="ignore", populate_by_name=True)

    service_name: str = "search"
    port: int = 8003
