"""Auth started while MongoDB is unreachable: up, honest about it, and never writing unindexed."""

from collections.abc import Iterator

import httpx
import pytest

from deploy.local.services import ServiceProcess
from tests.integration.harness import LOG_DIR, System, free_port
from tests.support.polling import Observation, eventually
from tests.support.processes import RETIRED_PROCESSES

pytestmark = pytest.mark.integration


@pytest.fixture
def auth_without_mongo(system: System) -> Iterator[ServiceProcess]:
    # A port nobody listens on stands in for a MongoDB that is down, without touching the stack.
    env = {**system.env, "MONGODB_URL": f"mongodb://127.0.0.1:{free_port()}/taskstream_down"}
    replica = ServiceProcess("auth", free_port(), env, LOG_DIR, replica=98)
    replica.start()
    RETIRED_PROCESSES.append(replica)
    try:
        yield replica
    finally:
        replica.stop()


async def wait_alive(client: httpx.AsyncClient) -> httpx.Response:
    """The first answer auth gives to /health, whatever its status."""
    answers: list[httpx.Response] = []

    async def answered() -> Observation:
        try:
            answers.append(await client.get("/health"))
        except httpx.TransportError as exc:
            return False, type(exc).__name__
        return True, answers[-1].status_code

    await eventually(answered, within=30.0, interval=0.2)
    return answers[-1]


async def test_auth_starts_without_mongodb_and_answers_503(
    auth_without_mongo: ServiceProcess,
) -> None:
    async with httpx.AsyncClient(base_url=auth_without_mongo.url, timeout=10) as direct:
        assert (await wait_alive(direct)).status_code == 200
        ready = await direct.get("/ready")
        assert ready.status_code == 503
        assert ready.json()["checks"]["mongodb"] == "failed"
        register = await direct.post(
            "/api/v1/auth/register", json={"email": "x@y.test", "password": "a fine passphrase"}
        )
        assert register.status_code == 503, register.text
        assert register.headers["retry-after"]
        assert "127.0.0.1" not in register.text
        # The signing keys need no database: tokens already issued keep verifying.
        assert (await direct.get("/.well-known/jwks.json")).status_code == 200
