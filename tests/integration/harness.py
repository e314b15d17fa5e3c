"""The system under test: real service processes against the real Kafka, FerretDB and Redis."""

import os
import secrets
import socket
import subprocess
import sys
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

from pymongo import MongoClient

from deploy.local.services import REPO, ServiceProcess

LOG_DIR = REPO / ".local" / "test-logs"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def infra_env() -> dict[str, str]:
    """Where the stack is; ``make test`` points these at the test stack."""
    return {
        "KAFKA_BOOTSTRAP_SERVERS": os.environ.get("KAFKA_BOOTSTRAP_SERVERS", "127.0.0.1:9092"),
        "MONGODB_URL": os.environ.get("MONGODB_URL", "mongodb://127.0.0.1:27017/taskstream"),
        "REDIS_URL": os.environ.get("REDIS_URL", "redis://127.0.0.1:6379/0"),
    }


def run_env(run_id: str, work_dir: Path) -> dict[str, str]:
    """Settings for one test session: its own database and topic, so runs never collide."""
    infra = infra_env()
    mongo_base = infra["MONGODB_URL"].rsplit("/", 1)[0]
    return {
        **infra,
        "MONGODB_URL": f"{mongo_base}/taskstream_it_{run_id}",
        "KAFKA_TASK_EVENTS_TOPIC": f"task-events-it-{run_id}",
        "INTERNAL_SIGNING_SECRET": secrets.token_urlsafe(48),
        "LOG_LEVEL": "INFO",
        "AUTH_KEYS_DIR": str(work_dir / "auth-keys"),
        "AUTH_COOKIE_SECURE": "false",
        # Integration tests log in far more often than people do; the limits tests lower these.
        "AUTH_LOGIN_MAX_FAILURES_PER_ADDRESS": "10000",
        "GATEWAY_PUBLIC_RATE_PER_SECOND": "1000",
        "GATEWAY_PUBLIC_BURST": "2000",
        "GATEWAY_USER_RATE_PER_SECOND": "1000",
        "GATEWAY_USER_BURST": "2000",
        "GATEWAY_INVALID_CREDENTIALS_PER_ADDRESS": "100000",
        "GATEWAY_CORS_ORIGINS": "http://app.example.test",
        "FORWARDED_ALLOW_IPS": "",  # uvicorn: a client's X-Forwarded-For is not its address
        "SEARCH_INDEX_DIR": str(work_dir / "search-index"),
    }


@dataclass
class System:
    """Every running process of the system under test, by service name."""

    env: dict[str, str]
    work_dir: Path
    processes: dict[str, list[ServiceProcess]] = field(default_factory=dict)

    def one(self, name: str) -> ServiceProcess:
        return self.processes[name][0]

    @property
    def gateway_url(self) -> str:
        return self.one("gateway").url

    @property
    def gateway_ops_url(self) -> str:
        return ops_url(self.one("gateway"))

    def add(
        self, name: str, *, extra_env: Mapping[str, str] | None = None, start: bool = True
    ) -> ServiceProcess:
        """Start one more replica of ``name`` with its own port (and its own index dir)."""
        replica = len(self.processes.get(name, []))
        env = {**self.env, **(extra_env or {})}
        if name == "gateway":
            env.setdefault("GATEWAY_OPS_PORT", str(free_port()))
        if name == "search":
            env["SEARCH_INDEX_DIR"] = str(self.work_dir / f"search-index-{replica}")
        proc = ServiceProcess(name, free_port(), env, LOG_DIR, replica=replica)
        self.processes.setdefault(name, []).append(proc)
        if start:
            proc.start()
            proc.wait_ready()
        return proc

    def gateway_env(self) -> dict[str, str]:
        def urls(name: str) -> str:
            return ",".join(p.url for p in self.processes.get(name, []))

        return {
            "GATEWAY_AUTH_URLS": urls("auth"),
            "GATEWAY_TASKS_URLS": urls("tasks"),
            "GATEWAY_SEARCH_URLS": urls("search"),
        }

    def stop(self) -> None:
        for name in ("gateway", "search", "tasks", "auth"):
            for proc in self.processes.get(name, []):
                proc.stop()
        drop_run_data(self.env)


def ops_url(gateway: ServiceProcess) -> str:
    """The gateway's ops listener (metrics, readiness details), never its public port."""
    return f"http://127.0.0.1:{gateway.env['GATEWAY_OPS_PORT']}"


def drop_run_data(env: Mapping[str, str]) -> None:
    """Remove this run's database: FerretDB keeps every database's SQLite file open, so
    hundreds of leftover test databases exhaust its file descriptors."""
    url = env["MONGODB_URL"]
    client: MongoClient[dict[str, object]]
    with MongoClient(url, serverSelectionTimeoutMS=5000) as client:
        client.drop_database(url.rsplit("/", 1)[1])


def start_system(work_dir: Path) -> System:
    system = System(env=run_env(secrets.token_hex(4), work_dir), work_dir=work_dir)
    for name in ("auth", "tasks", "search"):
        system.add(name)
    system.add("gateway", extra_env=system.gateway_env())
    return system


def stack_command(*args: str) -> None:
    """Stop or start a part of the infrastructure (``down kafka``, ``up kafka``)."""
    subprocess.run(
        [sys.executable, str(REPO / "deploy" / "local" / "stack.py"), *args],
        check=True,
        cwd=REPO,
        env=os.environ.copy(),
        timeout=180,
    )
