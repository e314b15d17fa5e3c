"""The settings base every service extends.

Shared settings are read without a prefix (``KAFKA_BOOTSTRAP_SERVERS``, ``MONGODB_URL``,
``REDIS_URL``, ``INTERNAL_SIGNING_SECRET``, ``JWT_ISSUER``, ``JWT_AUDIENCE``); a service's own
settings use its prefix (``GATEWAY_``, ``AUTH_``, ``TASKS_``, ``SEARCH_``).
"""

from typing import Annotated, Any

from pydantic import AliasChoices, Field, SecretStr, field_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict

PLACEHOLDER_MARKERS = ("changeme", "change-me", "change_me", "secret", "placeholder", "xxx")
MIN_SECRET_LENGTH = 32


def shared_field(env_name: str, default: object) -> Any:
    """A field read from an unprefixed environment variable, whatever the service prefix."""
    return Field(default=default, validation_alias=AliasChoices(env_name))


def require_real_secret(value: SecretStr, *, name: str) -> SecretStr:
    """Refuse a missing, short or obviously placeholder secret at start-up."""
    raw = value.get_secret_value()
    if len(raw) < MIN_SECRET_LENGTH:
        raise ValueError(f"{name} must be at least {MIN_SECRET_LENGTH} characters")
    if any(marker in raw.lower() for marker in PLACEHOLDER_MARKERS):
        raise ValueError(f"{name} looks like a placeholder; generate a random value")
    return value


def split_csv(value: object) -> object:
    """Let list settings be written as a comma-separated environment variable."""
    if isinstance(value, str):
        return [item.strip() for item in value.split(",") if item.strip()]
    return value


CsvList = Annotated[list[str], NoDecode]


class ServiceSettings(BaseSettings):
    """Settings every service reads; subclasses add a prefix and their own fields."""

    model_config = SettingsConfigDict(extra="ignore", populate_by_name=True)

    service_name: str = "taskstream"
    kafka_bootstrap_servers: str = shared_field("KAFKA_BOOTSTRAP_SERVERS", "127.0.0.1:9092")
    task_events_topic: str = shared_field("KAFKA_TASK_EVENTS_TOPIC", "task-events")
    mongodb_url: str = shared_field("MONGODB_URL", "mongodb://127.0.0.1:27017/taskstream")
    redis_url: str = shared_field("REDIS_URL", "redis://127.0.0.1:6379/0")
    internal_signing_secret: SecretStr = shared_field("INTERNAL_SIGNING_SECRET", SecretStr(""))
    jwt_issuer: str = shared_field("JWT_ISSUER", "taskstream")
    jwt_audience: str = shared_field("JWT_AUDIENCE", "taskstream-api")
    log_level: str = shared_field("LOG_LEVEL", "INFO")
    # A flagd flag-definition file, re-read within a second of a change (shared/flags.py).
    flags_file: str = shared_field("FLAGS_FILE", "deploy/flags/flags.json")
    flags_poll_ms: int = Field(
        default=500, ge=50, le=1000, validation_alias=AliasChoices("FLAGS_POLL_MS")
    )

    @field_validator("internal_signing_secret")
    @classmethod
    def _internal_secret_is_real(cls, value: SecretStr) -> SecretStr:
        return require_real_secret(value, name="INTERNAL_SIGNING_SECRET")

    @property
    def mongodb_database(self) -> str:
        """The database named in ``MONGODB_URL``'s path (``taskstream`` when absent)."""
        path = self.mongodb_url.split("://", 1)[-1].split("/", 1)
        name = path[1].split("?", 1)[0] if len(path) > 1 else ""
        return name or "taskstream"
