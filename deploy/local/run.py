"""``make run``: the local stack, then every service and its replicas, in the foreground.

Order: ``stack.py up`` (Kafka, FerretDB, Redis, the OpenID provider), secrets from
``.local/secrets.env`` (made once), the first replica of each backend (it creates shared state
such as auth's signing keys once), the other replicas, then the gateway with every replica's
URL; auth signs in with two providers ("Google", "GitHub") on the stack's OpenID provider.
Ctrl-C or SIGTERM stops the services, then whatever ``stack.py up`` started. Environment
variables the user sets win over every default here, so ``LOG_LEVEL=DEBUG make run`` or
another ``MONGODB_URL`` just work.
"""

import json
import os
import secrets
import shlex
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Mapping, Sequence
from pathlib import Path

if __package__ in (None, ""):  # run as a script: make the repo importable
    sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from deploy.local.services import DEFAULT_PORTS, REPO, ServiceProcess, stop_all

LOCAL = REPO / ".local"
SECRETS_FILE = LOCAL / "secrets.env"
RUN_DIR = LOCAL / "run"
LOG_DIR = LOCAL / "logs"
BACKENDS = ("auth", "tasks", "search")
REPLICA_PORT_STEP = 10
CANARY_PORT_OFFSET = 5  # canary replica n of tasks: 8007 + 10 n
MAX_REPLICAS = 9
READY_TIMEOUT_SECONDS = 120.0
# The social sign-in providers `make run` plays on the stack's mock-oauth2-server, where every
# path is an issuer of its own: (id, display name).
LOCAL_OIDC_PROVIDERS = (("google", "Google"), ("github", "GitHub"))


def stack(*args: str, env: Mapping[str, str]) -> subprocess.CompletedProcess[str]:
    command = [sys.executable, str(REPO / "deploy" / "local" / "stack.py"), *args]
    return subprocess.run(command, cwd=REPO, env=dict(env), text=True, check=False)


def stack_env(env: Mapping[str, str]) -> dict[str, str]:
    """Where the stack listens (``stack.py env``), so ``STACK_*_PORT`` changes reach services."""
    command = [sys.executable, str(REPO / "deploy" / "local" / "stack.py"), "env"]
    result = subprocess.run(
        command, cwd=REPO, env=dict(env), text=True, capture_output=True, check=False
    )
    return parse_env_lines(result.stdout) if result.returncode == 0 else {}


def parse_env_lines(text: str) -> dict[str, str]:
    """``KEY=value`` lines (an ``export`` prefix and shell quoting allowed); others skipped."""
    parsed: dict[str, str] = {}
    for line in text.splitlines():
        words = shlex.split(line, comments=True)
        if words[:1] == ["export"]:
            words = words[1:]
        if len(words) == 1 and "=" in words[0]:
            key, value = words[0].split("=", 1)
            parsed[key] = value
    return parsed


def load_or_create_secrets(path: Path) -> dict[str, str]:
    """Random secrets made once and reused, so tokens survive a restart of ``make run``."""
    if not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
        content = f"INTERNAL_SIGNING_SECRET={secrets.token_urlsafe(48)}\n"
        descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(descriptor, "w") as handle:
            handle.write(content)
    path.chmod(0o600)
    return parse_env_lines(path.read_text())


def replica_count(env: Mapping[str, str], name: str) -> int:
    raw = env.get(f"{name.upper()}_REPLICAS", "1")
    if not raw.isdigit() or not 1 <= int(raw) <= MAX_REPLICAS:
        raise SystemExit(f"{name.upper()}_REPLICAS must be a number from 1 to {MAX_REPLICAS}")
    return int(raw)


def replica_port(env: Mapping[str, str], name: str, replica: int) -> int:
    """Replica n of a service listens on its base port + 10 n: tasks 8002, 8012, 8022, ..."""
    base = int(env.get(f"{name.upper()}_PORT", DEFAULT_PORTS[name]))
    return base + REPLICA_PORT_STEP * replica


def local_oidc_settings(
    environ: Mapping[str, str], stack_settings: Mapping[str, str]
) -> dict[str, str]:
    """Social sign-in against the stack's own OpenID provider, if the stack has one."""
    provider_url = stack_settings.get("OIDC_PROVIDER_URL")
    if not provider_url:
        return {}
    providers = [
        {
            "id": provider_id,
            "name": name,
            "issuer": f"{provider_url}/{provider_id}",
            "client_id": f"taskstream-{provider_id}",
            # The local provider accepts any client secret; a real one comes from the user.
            "client_secret": secrets.token_urlsafe(24),
        }
        for provider_id, name in LOCAL_OIDC_PROVIDERS
    ]
    return {
        "AUTH_OIDC_PROVIDERS": json.dumps(providers),
        "AUTH_PUBLIC_URL": f"http://127.0.0.1:{replica_port(environ, 'gateway', 0)}",
    }


def base_env(
    environ: Mapping[str, str],
    *,
    stack_settings: Mapping[str, str],
    secret_values: Mapping[str, str],
) -> dict[str, str]:
    """Localhost defaults, then the stack's addresses and the secrets, then the user's values."""
    defaults = {
        "AUTH_KEYS_DIR": str(RUN_DIR / "auth-keys"),
        "AUTH_COOKIE_SECURE": "false",  # plain http on localhost; production keeps Secure
        **local_oidc_settings(environ, stack_settings),
    }
    return {**defaults, **stack_settings, **secret_values, **environ}


def backend_processes(env: Mapping[str, str]) -> dict[str, list[ServiceProcess]]:
    if replica_count(env, "search") > 1 and "SEARCH_INDEX_DIR" in env:
        raise SystemExit("SEARCH_INDEX_DIR names one index; unset it to run search replicas")
    return {
        name: [replica(env, name, n) for n in range(replica_count(env, name))] for name in BACKENDS
    }


def replica(env: Mapping[str, str], name: str, n: int, *, canary: bool = False) -> ServiceProcess:
    own_env = dict(env)
    if name == "search":  # every search replica builds and serves its own index copy
        index = f"search-canary-{n}" if canary else f"search-{n}"
        own_env.setdefault("SEARCH_INDEX_DIR", str(RUN_DIR / index))
    port = replica_port(env, name, n) + (CANARY_PORT_OFFSET if canary else 0)
    return ServiceProcess(name, port, own_env, LOG_DIR, replica=n)


def canary_processes(env: Mapping[str, str]) -> dict[str, list[ServiceProcess]]:
    """``<SERVICE>_CANARY_REPLICAS`` (0-9, default 0) canary replicas, on port + 5 + 10 n."""
    counts = {name: env.get(f"{name.upper()}_CANARY_REPLICAS", "0") for name in BACKENDS}
    for name, raw in counts.items():
        if not raw.isdigit() or int(raw) > MAX_REPLICAS:
            raise SystemExit(f"{name.upper()}_CANARY_REPLICAS must be a number from 0 to 9")
    return {
        name: [replica(env, name, n, canary=True) for n in range(int(raw))]
        for name, raw in counts.items()
        if int(raw)
    }


def gateway_process(
    env: Mapping[str, str],
    backends: Mapping[str, Sequence[ServiceProcess]],
    canaries: Mapping[str, Sequence[ServiceProcess]] | None = None,
) -> ServiceProcess:
    upstreams = {
        f"GATEWAY_{name.upper()}_{kind}URLS": ",".join(proc.url for proc in procs)
        for kind, pools in (("", backends), ("CANARY_", canaries or {}))
        for name, procs in pools.items()
    }
    return ServiceProcess("gateway", replica_port(env, "gateway", 0), {**upstreams, **env}, LOG_DIR)


def port_taken(port: int) -> bool:
    with socket.socket() as sock:
        return sock.connect_ex(("127.0.0.1", port)) == 0


def start_and_wait(processes: Sequence[ServiceProcess]) -> None:
    """Start a batch together, then wait for each; progress goes to the terminal."""
    for proc in processes:
        if port_taken(proc.port):
            raise RuntimeError(f"port {proc.port} for {proc.name} is already in use")
        proc.start()
    for proc in processes:
        started = time.monotonic()
        proc.wait_ready(timeout=READY_TIMEOUT_SECONDS)
        print(f"    {proc.name:8} {proc.url} ready ({time.monotonic() - started:.1f}s)", flush=True)


def start_services(env: Mapping[str, str], started: list[ServiceProcess]) -> None:
    """Start everything, appending to ``started`` as it goes so a failure can still clean up."""
    backends, canaries = backend_processes(env), canary_processes(env)
    first = [procs[0] for procs in backends.values()]
    extra = [proc for procs in backends.values() for proc in procs[1:]]
    extra += [proc for procs in canaries.values() for proc in procs]
    for batch in (first, extra, [gateway_process(env, backends, canaries)]):
        started.extend(batch)
        start_and_wait(batch)


def print_banner(gateway: ServiceProcess) -> None:
    print(
        f"\nTaskstream is running.\n"
        f"  gateway  {gateway.url}\n"
        f"  API docs {gateway.url}/docs\n"
        f"  logs     {LOG_DIR.relative_to(REPO)}/<service>-<port>.log\n"
        f"Press Ctrl-C to stop.",
        flush=True,
    )


def watch(processes: Sequence[ServiceProcess]) -> int:
    """Report any service that dies; the gateway dying ends the run (nothing is reachable)."""
    reported: set[int] = set()
    while True:
        time.sleep(1.0)
        for proc in processes:
            if proc.port in reported or proc.alive():
                continue
            reported.add(proc.port)
            code = proc.process.returncode if proc.process else None
            print(f"!! {proc.name}:{proc.port} exited ({code}); see {proc.log_path}", flush=True)
            if proc.name == "gateway":
                return 1


def shut_down(processes: Sequence[ServiceProcess]) -> None:
    # A second Ctrl-C must not cut the clean-up short and leave strays behind.
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    signal.signal(signal.SIGTERM, signal.SIG_IGN)
    print("==> stopping services", flush=True)
    stop_all(list(processes))
    print("==> stopping what stack.py up started", flush=True)
    stack("down", "--started-only", env=os.environ)


def run() -> int:
    # SIGTERM ends the run the way Ctrl-C does: through the clean-up below. SIGINT is set
    # explicitly because a shell that starts us in the background leaves it ignored.
    for signum in (signal.SIGINT, signal.SIGTERM):
        signal.signal(signum, signal.default_int_handler)
    processes: list[ServiceProcess] = []
    try:
        print(
            "==> infrastructure: stack.py up (Kafka, FerretDB, Redis, OpenID provider)", flush=True
        )
        if stack("up", env=os.environ).returncode != 0:
            print("!! the local stack did not start; see the messages above", file=sys.stderr)
            return 1
        env = base_env(
            os.environ,
            stack_settings=stack_env(os.environ),
            secret_values=load_or_create_secrets(SECRETS_FILE),
        )
        print("==> services", flush=True)
        start_services(env, processes)
        print_banner(processes[-1])
        return watch(processes)
    except KeyboardInterrupt:
        print("\n==> stop requested", flush=True)
        return 0
    except RuntimeError as exc:
        print(f"!! {exc}", file=sys.stderr, flush=True)
        return 1
    finally:
        shut_down(processes)


if __name__ == "__main__":
    sys.exit(run())
