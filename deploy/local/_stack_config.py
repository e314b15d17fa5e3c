"""Where one local stack keeps its state, where builds are cached, and which ports it uses."""

import os
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]


def _cache_dir(env: Mapping[str, str]) -> Path:
    base = env.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "taskstream"


def _state_dir(env: Mapping[str, str]) -> Path:
    # Relative to the repo, not the caller's cwd, so `make test` and a shell agree.
    return (REPO / env.get("STACK_DIR", ".local/stack")).resolve()


@dataclass(frozen=True)
class StackConfig:
    """One stack: its state dir (data, logs, pidfiles), the shared build cache and its ports."""

    state_dir: Path
    cache_dir: Path
    kafka_port: int
    kafka_controller_port: int
    mongo_port: int
    redis_port: int
    oidc_port: int

    @classmethod
    def from_env(cls, env: Mapping[str, str] = os.environ) -> "StackConfig":
        return cls(
            state_dir=_state_dir(env),
            cache_dir=_cache_dir(env),
            kafka_port=int(env.get("STACK_KAFKA_PORT", "9092")),
            kafka_controller_port=int(env.get("STACK_KAFKA_CONTROLLER_PORT", "9093")),
            mongo_port=int(env.get("STACK_MONGO_PORT", "27017")),
            redis_port=int(env.get("STACK_REDIS_PORT", "6379")),
            oidc_port=int(env.get("STACK_OIDC_PORT", "8070")),
        )

    def home(self, component: str) -> Path:
        """The component's own data and config directory."""
        return self.state_dir / component

    def log_file(self, component: str) -> Path:
        return self.state_dir / "logs" / f"{component}.log"

    def pid_file(self, component: str) -> Path:
        return self.state_dir / "run" / f"{component}.pid"

    @property
    def started_record(self) -> Path:
        return self.state_dir / "run" / "started-by-last-up"

    def ports(self, component: str) -> tuple[int, ...]:
        return {
            "kafka": (self.kafka_port, self.kafka_controller_port),
            "mongo": (self.mongo_port,),
            "redis": (self.redis_port,),
            "oidc": (self.oidc_port,),
        }[component]

    @property
    def kafka_bootstrap(self) -> str:
        return f"127.0.0.1:{self.kafka_port}"

    @property
    def mongo_url(self) -> str:
        return f"mongodb://127.0.0.1:{self.mongo_port}/taskstream"

    @property
    def redis_url(self) -> str:
        return f"redis://127.0.0.1:{self.redis_port}/0"

    @property
    def oidc_url(self) -> str:
        """The local OpenID provider's base URL; each path under it is an issuer."""
        return f"http://127.0.0.1:{self.oidc_port}"

    def client_env(self) -> dict[str, str]:
        """The settings every service reads to find this stack (and where its provider is)."""
        return {
            "KAFKA_BOOTSTRAP_SERVERS": self.kafka_bootstrap,
            "MONGODB_URL": self.mongo_url,
            "REDIS_URL": self.redis_url,
            "OIDC_PROVIDER_URL": self.oidc_url,
        }
