"""Start, watch and stop the four services as local uvicorn processes.

Used by ``make run`` and by the integration tests, which also kill and restart services to
prove that nothing is lost.
"""

import os
import signal
import subprocess
import sys
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

import httpx

REPO = Path(__file__).resolve().parents[2]
SERVICE_NAMES = ("auth", "tasks", "search", "gateway")
DEFAULT_PORTS = {"gateway": 8000, "auth": 8001, "tasks": 8002, "search": 8003}


@dataclass
class ServiceProcess:
    """One uvicorn process of one service on one port."""

    name: str
    port: int
    env: Mapping[str, str]
    log_dir: Path
    replica: int = 0
    process: subprocess.Popen[bytes] | None = field(default=None, repr=False)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def log_path(self) -> Path:
        return self.log_dir / f"{self.name}-{self.port}.log"

    def start(self) -> None:
        self.log_dir.mkdir(parents=True, exist_ok=True)
        command = [
            sys.executable,
            "-m",
            "uvicorn",
            "--factory",
            f"services.{self.name}.app.main:create_app",
            "--host",
            "127.0.0.1",
            "--port",
            str(self.port),
            "--no-access-log",
            # Clients reach the gateway from loopback too; uvicorn's default of trusting
            # X-Forwarded-For from 127.0.0.1 would let them choose their own address.
            "--no-proxy-headers",
            # No "Server: uvicorn" on any response: nothing to fingerprint.
            "--no-server-header",
            "--timeout-graceful-shutdown",
            "10",
            # uvicorn's 5 s equals httpx's idle expiry: a client reusing a connection just as
            # the server drops it gets a ReadError (seen in the soak). nginx keeps 75 s.
            "--timeout-keep-alive",
            "75",
        ]
        env = {**os.environ, **self.env, "PYTHONUNBUFFERED": "1"}
        with self.log_path.open("ab") as log:
            self.process = subprocess.Popen(
                command, cwd=REPO, env=env, stdout=log, stderr=subprocess.STDOUT
            )

    def alive(self) -> bool:
        return self.process is not None and self.process.poll() is None

    def wait_ready(self, timeout: float = 60.0) -> None:
        """Block until ``/ready`` answers 200; raise with the log path if it never does."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if not self.alive():
                raise RuntimeError(f"{self.name}:{self.port} exited; see {self.log_path}")
            try:
                if httpx.get(f"{self.url}/ready", timeout=3).status_code == 200:
                    return
            except httpx.HTTPError:
                pass
            time.sleep(0.2)
        raise RuntimeError(f"{self.name}:{self.port} not ready in {timeout}s; see {self.log_path}")

    def stop(self, timeout: float = 15.0) -> None:
        self._signal_and_wait(signal.SIGTERM, timeout)

    def kill(self) -> None:
        """SIGKILL: no shutdown hooks run, as in a crash."""
        self._signal_and_wait(signal.SIGKILL, 10.0)

    def _signal_and_wait(self, sig: signal.Signals, timeout: float) -> None:
        if not self.alive():
            return
        assert self.process is not None
        self.process.send_signal(sig)
        try:
            self.process.wait(timeout)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait(5)


def stop_all(processes: list[ServiceProcess]) -> None:
    # The gateway goes first so no request reaches a service that is already stopping.
    for proc in reversed(processes):
        proc.stop()
