"""Settings of the tasks service (prefix ``TASKS_``; shared ones unprefixed)."""

from pydantic_settings import SettingsConfigDict

from shared.settings import ServiceSettings


class Settings(ServiceSettings):
    model_config = SettingsConfigDict(env_prefix="TASKS_", extra="ignore", populate_by_name=True)

    service_name: str = "tasks"
    port: int = 8002
