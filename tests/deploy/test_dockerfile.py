"""The image: pinned slim base, non-root, health-checked, nothing built in the final stage."""

import re

from tests.deploy.compose_model import REPO

DOCKERFILE = (REPO / "Dockerfile").read_text()


def stages() -> list[str]:
    return re.split(r"(?m)^(?=FROM )", DOCKERFILE)[1:]


def test_every_stage_uses_a_pinned_slim_bookworm_base_and_python_the_same_one() -> None:
    bases = {stage.split()[1] for stage in stages()}

    # Node's official images spell the variant the other way round (web stage).
    slim = r"[a-z]+:[0-9.]+-(slim-bookworm|bookworm-slim)"
    assert all(re.fullmatch(slim, base) for base in bases)
    assert {base for base in bases if base.startswith("python")} == {"python:3.11-slim-bookworm"}
    assert stages()[-1].split()[1] == "python:3.11-slim-bookworm"
    assert len(stages()) >= 2


def test_the_final_stage_runs_as_an_unprivileged_numeric_user() -> None:
    users = re.findall(r"(?m)^USER (\S+)", stages()[-1])

    assert users
    assert users[-1].split(":")[0] not in ("0", "root")
    assert users[-1].split(":")[0].isdigit()


def test_the_final_stage_installs_no_build_tools() -> None:
    final = stages()[-1]

    assert "pip install" not in final
    assert not re.search(r"apt-get install|build-essential|gcc", final)


def test_the_image_checks_its_health_without_curl() -> None:
    healthcheck = re.search(r"(?ms)^HEALTHCHECK .*?CMD (.+?)$", DOCKERFILE)

    assert healthcheck
    assert "/health" in healthcheck.group(1)
    assert "urllib" in healthcheck.group(1)
    assert "curl" not in healthcheck.group(1)


def test_the_build_context_leaves_out_local_state_and_tests() -> None:
    ignored = (REPO / ".dockerignore").read_text().splitlines()

    assert ignored[ignored.index("*") :][:1] == ["*"]
    assert "services/*/tests/" in ignored
