"""The compose stack matches the code: services, ports, settings, volumes, secrets."""

import re
import subprocess
from typing import Any

import pytest
from pydantic import ValidationError

from tests.deploy.compose_model import (
    APP_SERVICES,
    COMPOSE_DIR,
    IMAGE_VARIABLES,
    REPO,
    compose_services,
    parse_env_file,
    required_env_names,
    setting_env_names,
    settings_class,
)

INFRA_SERVICES = ("kafka", "mongodb", "redis", "prometheus", "grafana")


def environment(service: dict[str, Any]) -> dict[str, str]:
    return {key: str(value) for key, value in (service.get("environment") or {}).items()}


def test_the_stack_has_the_infrastructure_and_the_four_services() -> None:
    assert set(compose_services()) == {*APP_SERVICES, *INFRA_SERVICES}


def test_only_the_gateway_publishes_a_port() -> None:
    publishing = {name for name, service in compose_services().items() if service.get("ports")}

    assert publishing == {"gateway"}


@pytest.mark.parametrize("name", APP_SERVICES)
def test_every_variable_compose_sets_is_a_setting_the_service_reads(name: str) -> None:
    declared = set(environment(compose_services()[name])) - IMAGE_VARIABLES

    unknown = declared - setting_env_names(settings_class(name))

    assert not unknown, f"{name} would ignore {sorted(unknown)}"


@pytest.mark.parametrize("name", APP_SERVICES)
def test_every_required_setting_is_set_by_compose(name: str) -> None:
    required = required_env_names(settings_class(name))

    assert required, "a service without required settings would not refuse placeholders"
    assert required <= set(environment(compose_services()[name]))


@pytest.mark.parametrize("name", APP_SERVICES)
def test_the_image_command_knows_which_service_it_runs(name: str) -> None:
    assert environment(compose_services()[name])["SERVICE"] == name


@pytest.mark.parametrize("name", [*APP_SERVICES, *INFRA_SERVICES])
def test_every_service_has_health_restart_and_limits(name: str) -> None:
    service = compose_services()[name]

    assert service["healthcheck"]["test"]
    assert service["restart"] == "unless-stopped"
    assert {"cpus", "memory"} <= set(service["deploy"]["resources"]["limits"])


@pytest.mark.parametrize("name", ["auth", "tasks", "search"])
def test_replicas_are_set_per_service_from_the_environment(name: str) -> None:
    replicas = compose_services()[name]["deploy"]["replicas"]

    assert replicas == f"${{{name.upper()}_REPLICAS:-1}}"


def test_search_replicas_each_keep_their_own_index() -> None:
    search = compose_services()["search"]
    index_dir = environment(search)["SEARCH_INDEX_DIR"]

    # A bare container path is an anonymous volume: one per replica, never shared.
    assert index_dir in search["volumes"]


def test_auth_replicas_share_one_key_volume() -> None:
    auth = compose_services()["auth"]

    assert f"auth-keys:{environment(auth)['AUTH_KEYS_DIR']}" in auth["volumes"]


def test_infrastructure_images_are_pinned() -> None:
    images = [compose_services()[name]["image"] for name in INFRA_SERVICES]

    for image in images:
        _, _, tag = image.rpartition(":")
        assert tag != "latest", image
        assert any(ch.isdigit() for ch in tag), image


def test_secrets_come_from_the_env_file_and_are_required() -> None:
    for name in APP_SERVICES:
        secret = environment(compose_services()[name])["INTERNAL_SIGNING_SECRET"]
        assert secret.startswith("${INTERNAL_SIGNING_SECRET:?"), name


@pytest.mark.parametrize("name", APP_SERVICES)
def test_the_example_env_file_placeholders_are_refused(name: str) -> None:
    example = parse_env_file(COMPOSE_DIR / ".env.example")

    with pytest.raises(ValidationError, match="INTERNAL_SIGNING_SECRET"):
        settings_class(name)(INTERNAL_SIGNING_SECRET=example["INTERNAL_SIGNING_SECRET"])


def test_the_real_env_file_is_never_committed() -> None:
    ignored = subprocess.run(
        ["git", "check-ignore", "--quiet", "deploy/compose/.env"], cwd=REPO, check=False
    )

    assert ignored.returncode == 0


def test_the_example_env_file_names_every_variable_compose_requires() -> None:
    compose_text = (COMPOSE_DIR / "compose.yaml").read_text()
    required = set(re.findall(r"\$\{([A-Z0-9_]+):\?", compose_text))

    assert required
    assert required <= set(parse_env_file(COMPOSE_DIR / ".env.example"))
