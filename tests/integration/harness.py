"""The system under test: real service processes against the real Kafka, FerretDB and Redis.

The processes come from ``deploy/local/system.py``, the one definition of the running system
(``make run`` and the benchmarks use it too); this module adds what a test run needs: its own
database and topic, limits high enough for tests, and the stop that drops that data.
"""

import os
import secrets
import subprocess
import sys
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from pymongo import MongoClient

from deploy.local.services import REPO
from deploy.local.system import BACKENDS, free_port, isolated_env, ops_url
from deploy.local.system import System as RunningSystem

LOG_DIR = REPO / ".local" / "test-logs"


def run_env(run_id: str, work_dir: Path) -> dict[str, str]:
    """Settings for one test session: a system of its own, with limits high enough for tests."""
    return {
        **isolated_env(run_id, work_dir, kind="it"),
        # Integration tests log in far more often than people do; the limits tests lower these.
        "AUTH_LOGIN_MAX_FAILURES_PER_ADDRESS": "10000",
        "GATEWAY_PUBLIC_RATE_PER_SECOND": "1000",
        "GATEWAY_PUBLIC_BURST": "2000",
        "GATEWAY_USER_RATE_PER_SECOND": "1000",
        "GATEWAY_USER_BURST": "2000",
        "GATEWAY_INVALID_CREDENTIALS_PER_ADDRESS": "100000",
        "GATEWAY_CORS_ORIGINS": "http://app.example.test",
    }


@dataclass
class System(RunningSystem):
    """The running system of a test session; its database goes when it stops."""

    def stop(self) -> None:
        super().stop()
        drop_run_data(self.env)


def drop_run_data(env: Mapping[str, str]) -> None:
    """Remove this run's database: FerretDB keeps every database's SQLite file open, so
    hundreds of leftover test databases exhaust its file descriptors."""
    url = env["MONGODB_URL"]
    client: MongoClient[dict[str, object]]
    with MongoClient(url, serverSelectionTimeoutMS=5000) as client:
        client.drop_database(url.rsplit("/", 1)[1])


def start_system(work_dir: Path) -> System:
    """One replica of each service, on free ports, with a database and topic of its own."""
    env = run_env(secrets.token_hex(4), work_dir)
    system = System(env=env, work_dir=work_dir, log_dir=LOG_DIR)
    system.start(dict.fromkeys(BACKENDS, 1))
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


__all__ = ["LOG_DIR", "System", "drop_run_data", "free_port", "ops_url", "run_env", "start_system"]
