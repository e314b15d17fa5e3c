"""The system under benchmark: the dev stack plus this run's own service processes.

The processes, their settings and replicas come from ``deploy/local/system.py``, the same
definition ``make run`` and the integration tests use, so a benchmark measures exactly what
the tests exercise; only the database, topic and limits differ.
"""

import os
import secrets
import shutil
import socket
import subprocess
import sys
from collections.abc import Mapping
from pathlib import Path

from pymongo import MongoClient

from deploy.local._stack_config import StackConfig
from deploy.local.services import REPO, ServiceProcess
from deploy.local.system import BACKENDS, System, isolated_env

LOG_DIR = REPO / ".local" / "bench" / "logs"
STACK = [sys.executable, str(REPO / "deploy" / "local" / "stack.py")]
# High enough that the benchmark measures throughput, never the rate limiter.
UNLIMITED = "1000000"


def install_tools() -> None:
    """wrk and nginx: through the stack script if it knows how, else straight from Debian."""
    if shutil.which("wrk") and shutil.which("nginx"):
        return
    if subprocess.call([*STACK, "install-tools"], cwd=REPO) == 0:
        return
    env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
    subprocess.run(["apt-get", "install", "-y", "-q", "wrk", "nginx"], check=True, env=env)


def _listening(port: int) -> bool:
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=1):
            return True
    except OSError:
        return False


def stack_up() -> bool:
    """Bring the stack up unless it already answers; whether this started any component.

    A full ``stack.py up`` rewrites the record of what was started, so running it under a
    ``make test`` that started the stack would make that run's clean-up leave it running.
    """
    config = StackConfig.from_env()
    if all(_listening(port) for port in (config.kafka_port, config.mongo_port, config.redis_port)):
        return False
    subprocess.run([*STACK, "up"], cwd=REPO, check=True)
    record = config.started_record
    return record.exists() and " started" in record.read_text()


def stack_down_started_only() -> None:
    subprocess.call([*STACK, "down", "--started-only"], cwd=REPO)


def bench_env(run_id: str, work_dir: Path) -> dict[str, str]:
    return {
        **isolated_env(run_id, work_dir, kind="bench"),
        "AUTH_LOGIN_MAX_FAILURES_PER_ADDRESS": UNLIMITED,
        "GATEWAY_INVALID_CREDENTIALS_PER_ADDRESS": UNLIMITED,
        "GATEWAY_PUBLIC_RATE_PER_SECOND": UNLIMITED,
        "GATEWAY_PUBLIC_BURST": UNLIMITED,
        "GATEWAY_USER_RATE_PER_SECOND": UNLIMITED,
        "GATEWAY_USER_BURST": UNLIMITED,
    }


def add(
    system: System, name: str, *, extra_env: Mapping[str, str] | None = None, ready: bool = True
) -> ServiceProcess:
    """One more replica of ``name``; ``ready=False`` returns as soon as it is started."""
    proc = system.plan(name, extra_env=extra_env)
    proc.start()
    if ready:
        proc.wait_ready()
    return proc


def start(work_dir: Path) -> System:
    # Only the latest run's logs are kept: each run writes tens of megabytes.
    shutil.rmtree(LOG_DIR, ignore_errors=True)
    env = bench_env(secrets.token_hex(4), work_dir)
    system = System(env=env, work_dir=work_dir, log_dir=LOG_DIR)
    system.start(dict.fromkeys(BACKENDS, 1))
    return system


def drop_database(system: System) -> None:
    """The run's database goes with the run; its topics are deleted by the Kafka helpers."""
    url = system.env["MONGODB_URL"]
    client: MongoClient[dict[str, object]] = MongoClient(url, serverSelectionTimeoutMS=3000)
    with client:
        client.drop_database(url.rsplit("/", 1)[1])


def peak_rss_mib(pid: int) -> float:
    """The process's high-water mark of resident memory (VmHWM), in MiB."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    raise RuntimeError(f"no VmHWM for pid {pid}")
