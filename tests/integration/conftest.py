"""Fixtures for tests against the real stack: the running system and clients of it."""

from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import httpx
import pytest

from tests.integration.harness import System, start_system
from tests.integration.helpers import new_account
from tests.integration.secrets_registry import Account, gateway_client
from tests.integration.test_faults_support import WriteStream, new_stream


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """The Kafka cluster fault tests need KAFKA_BROKERS=3 and minutes: only when asked for."""
    if "kafka_cluster" in (config.option.markexpr or ""):
        return
    chosen = [item for item in items if item.get_closest_marker("kafka_cluster") is None]
    if len(chosen) < len(items):
        config.hook.pytest_deselected(items=[i for i in items if i not in chosen])
        items[:] = chosen


@pytest.fixture(scope="session")
def system(tmp_path_factory: pytest.TempPathFactory) -> Iterator[System]:
    running = start_system(Path(tmp_path_factory.mktemp("system")))
    try:
        yield running
    finally:
        running.stop()


@pytest.fixture
async def api(system: System) -> AsyncIterator[httpx.AsyncClient]:
    """A client of the gateway, the only public URL."""
    async with httpx.AsyncClient(base_url=system.gateway_url, timeout=30) as client:
        yield client


@pytest.fixture
async def client(system: System) -> AsyncIterator[httpx.AsyncClient]:
    """A gateway client that records every secret it is handed, for the log-leak test."""
    async with gateway_client(system) as gateway:
        yield gateway


@pytest.fixture
async def account(client: httpx.AsyncClient) -> Account:
    return await new_account(client)


@pytest.fixture
async def stream(client: httpx.AsyncClient) -> WriteStream:
    return await new_stream(client)
