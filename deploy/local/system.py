"""The running system, defined once: its services and replicas, each replica's port and
environment, the order they start in, and what happens when one dies.

``make run`` (``run.py``), the integration tests (``tests/integration/harness.py``) and the
benchmarks (``bench/system.py``) all build their system here; they differ only in the
environment they start from and in how ports are chosen (the contract's fixed ports for
``make run``, free ones for tests and benchmarks).
"""

import os
import secrets
import socket
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from deploy.local.services import ServiceProcess, stop_all

BACKENDS = ("auth", "tasks", "search")
# (service, replica, canary) -> port
PortPlan = Callable[[str, int, bool], int]
Report = Callable[[str], None]


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def any_free_port(_name: str, _replica: int, _canary: bool) -> int:
    return free_port()


def ops_url(gateway: ServiceProcess) -> str:
    """The gateway's ops listener (metrics, readiness details), never its public port."""
    return f"http://127.0.0.1:{gateway.env['GATEWAY_OPS_PORT']}"


def local_defaults(work_dir: Path) -> dict[str, str]:
    """What every local system sets: where auth keeps its keys, and plain-http cookies."""
    return {
        "AUTH_KEYS_DIR": str(work_dir / "auth-keys"),
        "AUTH_COOKIE_SECURE": "false",  # plain http on localhost; production keeps Secure
    }


def infra_env(environ: Mapping[str, str] = os.environ) -> dict[str, str]:
    """Where the stack is (``make test`` points these at the test stack)."""
    return {
        "KAFKA_BOOTSTRAP_SERVERS": environ.get("KAFKA_BOOTSTRAP_SERVERS", "127.0.0.1:9092"),
        "MONGODB_URL": environ.get("MONGODB_URL", "mongodb://127.0.0.1:27017/taskstream"),
        "REDIS_URL": environ.get("REDIS_URL", "redis://127.0.0.1:6379/0"),
    }


def isolated_env(run_id: str, work_dir: Path, *, kind: str) -> dict[str, str]:
    """A system of its own on a shared stack (a test session's, a benchmark's): its own
    database, topic and signing secret, so runs never collide."""
    infra = infra_env()
    mongo_base = infra["MONGODB_URL"].rsplit("/", 1)[0]
    return {
        **infra,
        **local_defaults(work_dir),
        "MONGODB_URL": f"{mongo_base}/taskstream_{kind}_{run_id}",
        "KAFKA_TASK_EVENTS_TOPIC": f"task-events-{kind}-{run_id}",
        "INTERNAL_SIGNING_SECRET": secrets.token_urlsafe(48),
        "LOG_LEVEL": "INFO",
        "FORWARDED_ALLOW_IPS": "",  # uvicorn: a client's X-Forwarded-For is not its address
    }


def replica_env(
    env: Mapping[str, str], name: str, replica: int, *, work_dir: Path, canary: bool = False
) -> dict[str, str]:
    """One replica's settings: every search replica builds and serves its own index copy."""
    own = dict(env)
    if name == "search":
        index = f"search-canary-{replica}" if canary else f"search-{replica}"
        own.setdefault("SEARCH_INDEX_DIR", str(work_dir / index))
    return own


def upstream_env(
    backends: Mapping[str, Sequence[ServiceProcess]],
    canaries: Mapping[str, Sequence[ServiceProcess]] | None = None,
) -> dict[str, str]:
    """The gateway's upstream settings: every stable and every canary replica's URL."""
    return {
        f"GATEWAY_{name.upper()}_{kind}URLS": ",".join(proc.url for proc in procs)
        for kind, pools in (("", backends), ("CANARY_", canaries or {}))
        for name, procs in pools.items()
        if procs
    }


@dataclass
class System:
    """Every process of one running system, by service name (canaries apart)."""

    env: dict[str, str]
    work_dir: Path
    log_dir: Path
    ports: PortPlan = any_free_port
    # Tests and benchmarks run several gateways at once: each gets a free ops port.
    free_ops_port: bool = True
    processes: dict[str, list[ServiceProcess]] = field(default_factory=dict)
    canaries: dict[str, list[ServiceProcess]] = field(default_factory=dict)

    def one(self, name: str) -> ServiceProcess:
        return self.processes[name][0]

    @property
    def gateway_url(self) -> str:
        return self.one("gateway").url

    @property
    def gateway_ops_url(self) -> str:
        return ops_url(self.one("gateway"))

    def plan(
        self, name: str, *, extra_env: Mapping[str, str] | None = None, canary: bool = False
    ) -> ServiceProcess:
        """The next replica of ``name`` (or of its canary pool), registered but not started."""
        pool = self.canaries if canary else self.processes
        replica = len(pool.get(name, []))
        env = replica_env(
            {**self.env, **(extra_env or {})}, name, replica, work_dir=self.work_dir, canary=canary
        )
        if name == "gateway" and self.free_ops_port:
            env.setdefault("GATEWAY_OPS_PORT", str(free_port()))
        port = self.ports(name, replica, canary)
        proc = ServiceProcess(name, port, env, self.log_dir, replica=replica)
        pool.setdefault(name, []).append(proc)
        return proc

    def add(
        self, name: str, *, extra_env: Mapping[str, str] | None = None, start: bool = True
    ) -> ServiceProcess:
        """Start one more replica of ``name`` with its own port (and its own index dir)."""
        proc = self.plan(name, extra_env=extra_env)
        if start:
            proc.start()
            proc.wait_ready()
        return proc

    def gateway_env(self) -> dict[str, str]:
        return upstream_env(self.processes, self.canaries)

    def plan_all(
        self,
        replicas: Mapping[str, int],
        canaries: Mapping[str, int] | None = None,
        *,
        gateway_env: Mapping[str, str] | None = None,
    ) -> None:
        """Every replica, canary and the gateway (with every replica's URL), not started."""
        for name in BACKENDS:
            for _ in range(replicas.get(name, 1)):
                self.plan(name)
            for _ in range((canaries or {}).get(name, 0)):
                self.plan(name, canary=True)
        # Upstream URLs the environment already names (a user's own) are kept.
        upstreams = {k: v for k, v in self.gateway_env().items() if k not in self.env}
        self.plan("gateway", extra_env={**upstreams, **(gateway_env or {})})

    def start_planned(self, *, report: Report | None = None, ready_timeout: float = 60.0) -> None:
        """Start in order: the first replica of each backend (it creates shared state such as
        auth's signing keys once), then the other replicas and the canaries, then the gateway.
        Each batch starts together."""
        first = [self.processes[name][0] for name in BACKENDS]
        rest = [proc for proc in self.all_processes() if proc not in first]
        gateways = self.processes.get("gateway", [])
        for batch in (first, [p for p in rest if p not in gateways], gateways):
            start_and_wait(batch, report=report, timeout=ready_timeout)

    def start(
        self,
        replicas: Mapping[str, int],
        canaries: Mapping[str, int] | None = None,
        *,
        report: Report | None = None,
        ready_timeout: float = 60.0,
    ) -> None:
        """Plan and start the whole system; if any part fails, stop what started, then raise."""
        self.plan_all(replicas, canaries)
        try:
            self.start_planned(report=report, ready_timeout=ready_timeout)
        except BaseException:
            self.stop()
            raise

    def all_processes(self) -> list[ServiceProcess]:
        """Backends first, canaries, the gateway last: the order they started in."""
        procs = [p for name in BACKENDS for p in self.processes.get(name, [])]
        procs += [p for name in BACKENDS for p in self.canaries.get(name, [])]
        return procs + self.processes.get("gateway", [])

    def stop(self) -> None:
        stop_all(self.all_processes())


def start_and_wait(
    processes: Sequence[ServiceProcess], *, report: Report | None, timeout: float
) -> None:
    """Start a batch together, then wait for each to be ready."""
    for proc in processes:
        if port_taken(proc.port):
            raise RuntimeError(f"port {proc.port} for {proc.name} is already in use")
        proc.start()
    for proc in processes:
        started = time.monotonic()
        proc.wait_ready(timeout=timeout)
        if report:
            report(f"    {proc.name:8} {proc.url} ready ({time.monotonic() - started:.1f}s)")


def port_taken(port: int) -> bool:
    with socket.socket() as sock:
        return sock.connect_ex(("127.0.0.1", port)) == 0


@dataclass
class Restarts:
    """One process's restart history: the next attempt waits twice as long as the last."""

    count: int = 0
    next_at: float | None = None
    up_since: float = 0.0


@dataclass
class Supervisor:
    """Restarts a service that exits, with backoff, and says so (compose's
    ``restart: unless-stopped``). The backoff resets once a process has stayed up a minute."""

    processes: Sequence[ServiceProcess]
    report: Report
    clock: Callable[[], float] = time.monotonic
    first_delay: float = 1.0
    max_delay: float = 30.0
    healthy_after: float = 60.0
    history: dict[int, Restarts] = field(default_factory=dict)

    def check(self) -> None:
        """One round: note deaths, restart what is due."""
        now = self.clock()
        for proc in self.processes:
            state = self.history.setdefault(proc.port, Restarts(up_since=now))
            if proc.alive():
                if state.count and now - state.up_since >= self.healthy_after:
                    state.count = 0
                continue
            if state.next_at is None:
                delay = min(self.max_delay, self.first_delay * 2**state.count)
                state.next_at = now + delay
                code = proc.process.returncode if proc.process else None
                self.report(
                    f"!! {proc.name}:{proc.port} exited ({code}); restarting in {delay:.0f} s "
                    f"(see {proc.log_path})"
                )
            elif now >= state.next_at:
                state.count += 1
                state.next_at = None
                state.up_since = now
                proc.start()
                self.report(f"==> {proc.name}:{proc.port} restarted (restart {state.count})")

    def run(self, interval: float = 1.0) -> None:
        while True:
            time.sleep(interval)
            self.check()
