"""``make run``'s plan: ports, replicas, per-replica state, secrets and who wins on settings."""

import json
import stat
import subprocess
import sys
from pathlib import Path

import pytest

from deploy.local import run
from deploy.local.services import ServiceProcess


def plan_env(**overrides: str) -> dict[str, str]:
    return run.base_env(
        overrides,
        stack_settings={"REDIS_URL": "redis://127.0.0.1:6379/0"},
        secret_values={"INTERNAL_SIGNING_SECRET": "from-the-secrets-file"},
    )


def test_one_replica_each_on_the_contract_ports() -> None:
    backends = run.backend_processes(plan_env())
    gateway = run.gateway_process(plan_env(), backends)

    ports = {name: [proc.port for proc in procs] for name, procs in backends.items()}
    assert ports == {"auth": [8001], "tasks": [8002], "search": [8003]}
    assert gateway.port == 8000


def test_extra_replicas_step_by_ten_and_the_gateway_lists_them_all() -> None:
    env = plan_env(TASKS_REPLICAS="3", SEARCH_REPLICAS="2")
    backends = run.backend_processes(env)
    gateway = run.gateway_process(env, backends)

    assert [proc.port for proc in backends["tasks"]] == [8002, 8012, 8022]
    assert gateway.env["GATEWAY_TASKS_URLS"] == (
        "http://127.0.0.1:8002,http://127.0.0.1:8012,http://127.0.0.1:8022"
    )
    assert gateway.env["GATEWAY_SEARCH_URLS"] == "http://127.0.0.1:8003,http://127.0.0.1:8013"
    assert gateway.env["GATEWAY_AUTH_URLS"] == "http://127.0.0.1:8001"


def test_every_search_replica_has_its_own_index_dir() -> None:
    backends = run.backend_processes(plan_env(SEARCH_REPLICAS="3"))

    dirs = [proc.env["SEARCH_INDEX_DIR"] for proc in backends["search"]]
    assert dirs == [str(run.RUN_DIR / f"search-{n}") for n in range(3)]


def test_one_search_index_dir_cannot_serve_several_replicas() -> None:
    with pytest.raises(SystemExit, match="SEARCH_INDEX_DIR"):
        run.backend_processes(plan_env(SEARCH_REPLICAS="2", SEARCH_INDEX_DIR="/tmp/one"))


@pytest.mark.parametrize("count", ["0", "10", "two", "-1"])
def test_replica_counts_outside_one_to_nine_are_refused(count: str) -> None:
    with pytest.raises(SystemExit, match="TASKS_REPLICAS"):
        run.backend_processes(plan_env(TASKS_REPLICAS=count))


def test_canary_replicas_sit_five_ports_up_and_the_gateway_gets_their_pool() -> None:
    env = plan_env(TASKS_CANARY_REPLICAS="2", SEARCH_CANARY_REPLICAS="1")
    canaries = run.canary_processes(env)
    gateway = run.gateway_process(env, run.backend_processes(env), canaries)

    assert {name: [p.port for p in procs] for name, procs in canaries.items()} == {
        "tasks": [8007, 8017],
        "search": [8008],
    }
    assert canaries["search"][0].env["SEARCH_INDEX_DIR"] == str(run.RUN_DIR / "search-canary-0")
    assert gateway.env["GATEWAY_TASKS_CANARY_URLS"] == "http://127.0.0.1:8007,http://127.0.0.1:8017"
    assert gateway.env["GATEWAY_TASKS_URLS"] == "http://127.0.0.1:8002"
    assert "GATEWAY_AUTH_CANARY_URLS" not in gateway.env
    assert run.canary_processes(plan_env()) == {}
    with pytest.raises(SystemExit, match="AUTH_CANARY_REPLICAS"):
        run.canary_processes(plan_env(AUTH_CANARY_REPLICAS="10"))


def test_user_settings_beat_defaults_stack_and_secrets() -> None:
    env = plan_env(
        AUTH_COOKIE_SECURE="true",
        REDIS_URL="redis://elsewhere:6379/1",
        INTERNAL_SIGNING_SECRET="the-users-own",
        GATEWAY_TASKS_URLS="http://127.0.0.1:9999",
        TASKS_PORT="9002",
    )
    backends = run.backend_processes(env)
    gateway = run.gateway_process(env, backends)

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


def test_dead_services_are_reported_with_their_logs_and_a_dead_gateway_ends_the_run(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    search = exited("search", 8013, 3, tmp_path)
    gateway = exited("gateway", 8000, 1, tmp_path)

    assert run.watch([search, gateway]) == 1

    out = capsys.readouterr().out
    assert f"search:8013 exited (3); see {search.log_path}" in out
    assert f"gateway:8000 exited (1); see {gateway.log_path}" in out


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
