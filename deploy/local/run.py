"""``make run``: the local stack, then every service and its replicas, in the foreground.

Order: ``stack.py up`` (Kafka, FerretDB, Redis, the OpenID provider), secrets from
``.local/secrets.env`` (made once), the first replica of each backend (it creates shared state
such as auth's signing keys once), the other replicas, then the gateway with every replica's
URL; auth signs in with two providers ("Google", "GitHub") on the stack's OpenID provider.
The processes, their environment and start order come from ``system.py``, as for the tests
and benchmarks. A service that exits is restarted with backoff (1 s, doubling to 30 s) and
reported. Ctrl-C or SIGTERM stops the services, then whatever ``stack.py up`` started. Environment
variables the user sets win over every default here, so ``LOG_LEVEL=DEBUG make run`` or
another ``MONGODB_URL`` just work.
"""

import json
import os
import secrets
import shlex
import signal
import subprocess
import sys
from collections.abc import Mapping
from pathlib import Path

if __package__ in (None, ""):  # run as a script: make the repo importable
    sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from deploy.local.services import DEFAULT_PORTS, REPO, ServiceProcess
from deploy.local.system import BACKENDS, Supervisor, System, local_defaults

LOCAL = REPO / ".local"
SECRETS_FILE = LOCAL / "secrets.env"
RUN_DIR = LOCAL / "run"
LOG_DIR = LOCAL / "logs"
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
    defaults = {**local_defaults(RUN_DIR), **local_oidc_settings(environ, stack_settings)}
    return {**defaults, **stack_settings, **secret_values, **environ}


def canary_counts(env: Mapping[str, str]) -> dict[str, int]:
    """``<SERVICE>_CANARY_REPLICAS`` (0-9, default 0) canary replicas, on port + 5 + 10 n."""
    counts = {name: env.get(f"{name.upper()}_CANARY_REPLICAS", "0") for name in BACKENDS}
    for name, raw in counts.items():
        if not raw.isdigit() or int(raw) > MAX_REPLICAS:
            raise SystemExit(f"{name.upper()}_CANARY_REPLICAS must be a number from 0 to 9")
    return {name: int(raw) for name, raw in counts.items()}


def plan_system(env: Mapping[str, str]) -> System:
    """``make run``'s system (``deploy/local/system.py``) on the contract's ports: replica n
    of a service on its port + 10 n, canary n on port + 5 + 10 n; nothing started yet."""
    replicas = {name: replica_count(env, name) for name in BACKENDS}
    if replicas["search"] > 1 and "SEARCH_INDEX_DIR" in env:
        raise SystemExit("SEARCH_INDEX_DIR names one index; unset it to run search replicas")

    def port(name: str, replica: int, canary: bool) -> int:
        return replica_port(env, name, replica) + (CANARY_PORT_OFFSET if canary else 0)

    system = System(env=dict(env), work_dir=RUN_DIR, log_dir=LOG_DIR, ports=port)
    system.free_ops_port = False  # the gateway's ops listener keeps its default, 8090
    system.plan_all(replicas, canary_counts(env))
    return system


def say(line: str) -> None:
    print(line, flush=True)


def print_banner(gateway: ServiceProcess) -> None:
    print(
        f"\nTaskstream is running.\n"
        f"  gateway  {gateway.url}\n"
        f"  API docs {gateway.url}/docs\n"
        f"  logs     {LOG_DIR.relative_to(REPO)}/<service>-<port>.log\n"
        f"Press Ctrl-C to stop.",
        flush=True,
    )


def shut_down(system: System | None) -> None:
    # A second Ctrl-C must not cut the clean-up short and leave strays behind.
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    signal.signal(signal.SIGTERM, signal.SIG_IGN)
    print("==> stopping services", flush=True)
    if system is not None:
        system.stop()
    print("==> stopping what stack.py up started", flush=True)
    stack("down", "--started-only", env=os.environ)


def run() -> int:
    # SIGTERM ends the run the way Ctrl-C does: through the clean-up below. SIGINT is set
    # explicitly because a shell that starts us in the background leaves it ignored.
    for signum in (signal.SIGINT, signal.SIGTERM):
        signal.signal(signum, signal.default_int_handler)
    system: System | None = None
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
        system = plan_system(env)
        system.start_planned(report=say, ready_timeout=READY_TIMEOUT_SECONDS)
        print_banner(system.one("gateway"))
        # A service that exits is restarted with backoff, and said so, until Ctrl-C.
        Supervisor(system.all_processes(), report=say).run()
        return 0
    except KeyboardInterrupt:
        print("\n==> stop requested", flush=True)
        return 0
    except RuntimeError as exc:
        print(f"!! {exc}", file=sys.stderr, flush=True)
        return 1
    finally:
        shut_down(system)


if __name__ == "__main__":
    sys.exit(run())
