"""Where one local stack keeps its state, where builds are cached, and which ports it uses."""

import os
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
MAX_KAFKA_BROKERS = 5


def _cache_dir(env: Mapping[str, str]) -> Path:
    base = env.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "taskstream"


def _state_dir(env: Mapping[str, str]) -> Path:
    # Relative to the repo, not the caller's cwd, so `make test` and a shell agree.
    return (REPO / env.get("STACK_DIR", ".local/stack")).resolve()


def _kafka_brokers(env: Mapping[str, str]) -> int:
    raw = env.get("KAFKA_BROKERS", "1")
    if not raw.isdigit() or not 1 <= int(raw) <= MAX_KAFKA_BROKERS:
        raise ValueError(f"KAFKA_BROKERS must be a number from 1 to {MAX_KAFKA_BROKERS}")
    return int(raw)


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
    # One broker on 127.0.0.1, or a cluster with each broker in its own network namespace.
    kafka_brokers: int = 1

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
            kafka_brokers=_kafka_brokers(env),
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
        if component.startswith("kafka"):
            return (self.kafka_port, self.kafka_controller_port)
        return {
            "mongo": (self.mongo_port,),
            "redis": (self.redis_port,),
            "oidc": (self.oidc_port,),
        }[component]

    @property
    def kafka_cluster(self) -> bool:
        return self.kafka_brokers > 1

    @property
    def kafka_nodes(self) -> tuple[int, ...]:
        return tuple(range(1, self.kafka_brokers + 1))

    def kafka_component(self, node: int) -> str:
        return f"kafka-{node}" if self.kafka_cluster else "kafka"

    # A cluster's names and addresses derive from its port, so two stacks never share them:
    # port p gets the /24 10.(p >> 8).(p & 255).0, one of its own for every port.
    @property
    def kafka_subnet(self) -> str:
        return f"10.{self.kafka_port >> 8}.{self.kafka_port & 255}"

    @property
    def kafka_bridge(self) -> str:
        return f"tsb{self.kafka_port}"

    def kafka_netns(self, node: int) -> str:
        return f"ts{self.kafka_port}-k{node}"

    def kafka_link(self, node: int) -> str:
        return f"ts{self.kafka_port}k{node}"

    def kafka_host(self, node: int) -> str:
        return f"{self.kafka_subnet}.{10 + node}" if self.kafka_cluster else "127.0.0.1"

    def kafka_address(self, node: int) -> str:
        return f"{self.kafka_host(node)}:{self.kafka_port}"

    @property
    def kafka_bootstrap(self) -> str:
        return ",".join(self.kafka_address(node) for node in self.kafka_nodes)

    @property
    def kafka_replication_factor(self) -> int:
        return min(3, self.kafka_brokers)

    @property
    def kafka_min_insync_replicas(self) -> int:
        """Acknowledged once two of three hold it: one broker may fail without losing a write."""
        return max(1, self.kafka_replication_factor - 1)

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
        """The settings every service reads to find this stack."""
        env = {
            "KAFKA_BOOTSTRAP_SERVERS": self.kafka_bootstrap,
            "MONGODB_URL": self.mongo_url,
            "REDIS_URL": self.redis_url,
            "OIDC_PROVIDER_URL": self.oidc_url,
        }
        if self.kafka_cluster:
            env["TASKS_TOPIC_REPLICATION_FACTOR"] = str(self.kafka_replication_factor)
            env["TASKS_TOPIC_MIN_INSYNC_REPLICAS"] = str(self.kafka_min_insync_replicas)
        return env
