"""``make run``'s plan: ports, replicas, per-replica state, secrets and who wins on settings."""

import json
import stat
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import pytest

from deploy.local import run
from deploy.local.services import ServiceProcess
from deploy.local.system import Supervisor


def plan_env(**overrides: str) -> dict[str, str]:
    return run.base_env(
        overrides,
        stack_settings={"REDIS_URL": "redis://127.0.0.1:6379/0"},
        secret_values={"INTERNAL_SIGNING_SECRET": "from-the-secrets-file"},
    )


def planned(
    env: dict[str, str],
) -> tuple[dict[str, list[ServiceProcess]], ServiceProcess, dict[str, list[ServiceProcess]]]:
    """Backends, gateway and canaries of ``make run``'s system, planned and not started."""
    system = run.plan_system(env)
    backends = {name: procs for name, procs in system.processes.items() if name != "gateway"}
    return backends, system.one("gateway"), system.canaries


def test_one_replica_each_on_the_contract_ports() -> None:
    backends, gateway, _ = planned(plan_env())

    ports = {name: [proc.port for proc in procs] for name, procs in backends.items()}
    assert ports == {"auth": [8001], "tasks": [8002], "search": [8003]}
    assert gateway.port == 8000


def test_extra_replicas_step_by_ten_and_the_gateway_lists_them_all() -> None:
    env = plan_env(TASKS_REPLICAS="3", SEARCH_REPLICAS="2")
    backends, gateway, _ = planned(env)

    assert [proc.port for proc in backends["tasks"]] == [8002, 8012, 8022]
    assert gateway.env["GATEWAY_TASKS_URLS"] == (
        "http://127.0.0.1:8002,http://127.0.0.1:8012,http://127.0.0.1:8022"
    )
    assert gateway.env["GATEWAY_SEARCH_URLS"] == "http://127.0.0.1:8003,http://127.0.0.1:8013"
    assert gateway.env["GATEWAY_AUTH_URLS"] == "http://127.0.0.1:8001"


def test_every_search_replica_has_its_own_index_dir() -> None:
    backends, _, _ = planned(plan_env(SEARCH_REPLICAS="3"))

    dirs = [proc.env["SEARCH_INDEX_DIR"] for proc in backends["search"]]
    assert dirs == [str(run.RUN_DIR / f"search-{n}") for n in range(3)]


def test_one_search_index_dir_cannot_serve_several_replicas() -> None:
    with pytest.raises(SystemExit, match="SEARCH_INDEX_DIR"):
        planned(plan_env(SEARCH_REPLICAS="2", SEARCH_INDEX_DIR="/tmp/one"))


@pytest.mark.parametrize("count", ["0", "10", "two", "-1"])
def test_replica_counts_outside_one_to_nine_are_refused(count: str) -> None:
    with pytest.raises(SystemExit, match="TASKS_REPLICAS"):
        planned(plan_env(TASKS_REPLICAS=count))


def test_canary_replicas_sit_five_ports_up_and_the_gateway_gets_their_pool() -> None:
    env = plan_env(TASKS_CANARY_REPLICAS="2", SEARCH_CANARY_REPLICAS="1")
    _, gateway, canaries = planned(env)

    assert {name: [p.port for p in procs] for name, procs in canaries.items()} == {
        "tasks": [8007, 8017],
        "search": [8008],
    }
    assert canaries["search"][0].env["SEARCH_INDEX_DIR"] == str(run.RUN_DIR / "search-canary-0")
    assert gateway.env["GATEWAY_TASKS_CANARY_URLS"] == "http://127.0.0.1:8007,http://127.0.0.1:8017"
    assert gateway.env["GATEWAY_TASKS_URLS"] == "http://127.0.0.1:8002"
    assert "GATEWAY_AUTH_CANARY_URLS" not in gateway.env
    assert planned(plan_env())[2] == {}
    with pytest.raises(SystemExit, match="AUTH_CANARY_REPLICAS"):
        run.plan_system(plan_env(AUTH_CANARY_REPLICAS="10"))


def test_user_settings_beat_defaults_stack_and_secrets() -> None:
    env = plan_env(
        AUTH_COOKIE_SECURE="true",
        REDIS_URL="redis://elsewhere:6379/1",
        INTERNAL_SIGNING_SECRET="the-users-own",
        GATEWAY_TASKS_URLS="http://127.0.0.1:9999",
        TASKS_PORT="9002",
    )
    backends, gateway, _ = planned(env)

    assert env["AUTH_COOKIE_SECURE"] == "true"
    assert env["REDIS_URL"] == "redis://elsewhere:6379/1"
    assert env["INTERNAL_SIGNING_SECRET"] == "the-users-own"
    assert backends["tasks"][0].port == 9002
    assert gateway.env["GATEWAY_TASKS_URLS"] == "http://127.0.0.1:9999"


def test_localhost_defaults_fill_what_the_user_did_not_set() -> None:
    env = plan_env()

    assert env["AUTH_COOKIE_SECURE"] == "false"
    assert env["AUTH_KEYS_DIR"] == str(run.RUN_DIR / "auth-keys")
    assert env["REDIS_URL"] == "redis://127.0.0.1:6379/0"
    assert env["INTERNAL_SIGNING_SECRET"] == "from-the-secrets-file"


def test_secrets_are_made_once_private_and_reused(tmp_path: Path) -> None:
    path = tmp_path / "nested" / "secrets.env"

    first = run.load_or_create_secrets(path)
    second = run.load_or_create_secrets(path)

    assert first == second
    assert len(first["INTERNAL_SIGNING_SECRET"]) >= 32
    assert stat.S_IMODE(path.stat().st_mode) == 0o600


def test_secrets_file_permissions_are_tightened_if_loosened(tmp_path: Path) -> None:
    path = tmp_path / "secrets.env"
    run.load_or_create_secrets(path)
    path.chmod(0o644)

    run.load_or_create_secrets(path)

    assert stat.S_IMODE(path.stat().st_mode) == 0o600


def test_env_lines_parse_like_a_shell() -> None:
    text = "# comment\nexport A=1\nB='two words'\nnot a setting\n\nC=x=y\n"

    assert run.parse_env_lines(text) == {"A": "1", "B": "two words", "C": "x=y"}


def exited(name: str, port: int, code: int, log_dir: Path) -> ServiceProcess:
    proc = ServiceProcess(name, port, {}, log_dir)
    proc.process = subprocess.Popen([sys.executable, "-c", f"raise SystemExit({code})"])
    proc.process.wait(10)
    return proc


@dataclass
class Clock:
    now: float = 0.0

    def __call__(self) -> float:
        return self.now


def test_a_service_that_exits_is_restarted_with_backoff_and_reported(tmp_path: Path) -> None:
    search = exited("search", 8013, 3, tmp_path)
    starts: list[float] = []
    clock, lines = Clock(), list[str]()
    search.start = lambda: starts.append(clock.now)  # type: ignore[method-assign]
    supervisor = Supervisor([search], report=lines.append, clock=clock)

    for now in (0.0, 0.5, 1.0, 1.5, 3.0, 3.5, 4.0, 7.0, 8.0):  # it keeps exiting
        clock.now = now
        supervisor.check()

    # Seen dead at 0: restarted 1 s later; seen dead at 1.5: 2 s later; at 4.0: 4 s later.
    assert starts == [1.0, 3.5, 8.0]
    delays = [line.split("restarting in ")[1].split(" s")[0] for line in lines if "exited" in line]
    assert delays == ["1", "2", "4"]
    assert lines[0] == f"!! search:8013 exited (3); restarting in 1 s (see {search.log_path})"
    assert lines[-1] == "==> search:8013 restarted (restart 3)"


def test_a_restarted_service_that_stays_up_starts_its_backoff_afresh(tmp_path: Path) -> None:
    tasks = exited("tasks", 8002, 1, tmp_path)
    clock, lines = Clock(), list[str]()
    alive = {"now": False}
    tasks.alive = lambda: alive["now"]  # type: ignore[method-assign]
    tasks.start = lambda: alive.update(now=True)  # type: ignore[method-assign]
    supervisor = Supervisor([tasks], report=lines.append, clock=clock)

    for now in (0.0, 1.0):  # exits, restarted
        clock.now = now
        supervisor.check()
    clock.now = 100.0  # up for more than a minute
    supervisor.check()
    alive["now"] = False
    clock.now = 101.0
    supervisor.check()

    assert lines[-1].endswith(f"restarting in 1 s (see {tasks.log_path})")


def test_make_run_signs_in_with_two_providers_on_the_local_provider() -> None:
    env = run.base_env(
        {"GATEWAY_PORT": "8100"},
        stack_settings={"OIDC_PROVIDER_URL": "http://127.0.0.1:8070"},
        secret_values={},
    )

    providers = json.loads(env["AUTH_OIDC_PROVIDERS"])
    assert [(p["id"], p["name"], p["issuer"]) for p in providers] == [
        ("google", "Google", "http://127.0.0.1:8070/google"),
        ("github", "GitHub", "http://127.0.0.1:8070/github"),
    ]
    assert all(p["client_id"] and len(p["client_secret"]) >= 24 for p in providers)
    assert env["AUTH_PUBLIC_URL"] == "http://127.0.0.1:8100"
