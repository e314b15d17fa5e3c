"""Settings of the tasks service (prefix ``TASKS_``; shared ones unprefixed)."""

import hashlib
import hmac

from pydantic import Field, SecretStr
from pydantic_settings import SettingsConfigDict

from shared.settings import ServiceSettings


class Settings(ServiceSettings):
    model_config = SettingsConfigDict(env_prefix="TASKS_", extra="ignore", populate_by_name=True)

    service_name: str = "tasks"
    port: int = 8002
    mongo_max_pool_size: int = Field(default=100, ge=1)
    mongo_min_pool_size: int = Field(default=0, ge=0)
    mongo_timeout_ms: int = Field(default=2000, ge=100)
    topic_partitions: int = Field(default=3, ge=1)
    # Used when this service creates the topic; a cluster of three: 3 and 2 (docs/operations.md).
    topic_replication_factor: int = Field(default=1, ge=1)
    topic_min_insync_replicas: int = Field(default=1, ge=1)
    # How often the sweeper looks for events a crashed replica left behind, and how old an
    # unpublished event must be before the sweeper, not the writer's relay, takes it.
    sweep_interval_seconds: float = Field(default=5.0, gt=0)
    outbox_stale_seconds: float = Field(default=5.0, gt=0)
    publish_timeout_seconds: float = Field(default=10.0, gt=0)
    # Test-only: hold the relay back so a crash between a write and its publish is certain.
    relay_start_delay_seconds: float = Field(default=0.0, ge=0)
    stats_cache_ttl_seconds: int = Field(default=60, ge=1)
    # Live events (SSE): how many recent events a replica holds for resuming streams, the
    # longest quiet gap on a stream, and how often a stream rechecks its caller's access.
    live_buffer_events: int = Field(default=10_000, ge=100, le=1_000_000)
    live_heartbeat_seconds: float = Field(default=15.0, gt=0, le=60)
    live_check_seconds: float = Field(default=2.0, gt=0, le=15)
    # Optional; derived from INTERNAL_SIGNING_SECRET when empty.
    cursor_secret: SecretStr = SecretStr("")

    def cursor_key(self) -> bytes:
        """The key that signs list cursors: its own setting, or one derived for this purpose."""
        own = self.cursor_secret.get_secret_value()
        if own:
            return own.encode()
        base = self.internal_signing_secret.get_secret_value().encode()
        return hmac.new(base, b"taskstream tasks cursor key", hashlib.sha256).digest()
