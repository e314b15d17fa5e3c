"""Fixtures for tests against the real stack: the running system and clients of it.

When the session is over, every log line its processes wrote is checked: structured JSON, and
no secret of the session in it (``tests/support/logs.py``). A failed check fails the session.
"""

from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import httpx
import pytest

from tests.integration.harness import System, start_system
from tests.support.accounts import Account, new_account
from tests.support.logs import SESSION_SYSTEMS, log_check_failures, session_lines, session_secrets
from tests.support.secrets import gateway_client
from tests.support.write_stream import WriteStream, new_stream


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """The Kafka cluster fault tests need KAFKA_BROKERS=3 and minutes: only when asked for."""
    if "kafka_cluster" in (config.option.markexpr or ""):
        return
    chosen = [item for item in items if item.get_closest_marker("kafka_cluster") is None]
    if len(chosen) < len(items):
        config.hook.pytest_deselected(items=[i for i in items if i not in chosen])
        items[:] = chosen


def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    """The no-secrets-in-logs and structured-logs checks, over everything the session logged.

    They run after every test and every process stop, so no test order is assumed; a failure
    is printed and turns the session's exit status into "tests failed".
    """
    reporter = session.config.pluginmanager.get_plugin("terminalreporter")
    for system in SESSION_SYSTEMS:
        lines = sum(1 for _ in session_lines(system))
        failures = log_check_failures(system)
        if lines == 0:
            failures.append("no log line of this session was found: the log check read nothing")
        if reporter is not None:
            reporter.ensure_newline()
            reporter.section("session log check", sep="=", bold=True, red=bool(failures))
            secrets = len(session_secrets(system))
            reporter.write_line(f"{lines} log lines checked against {secrets} secrets")
            for failure in failures:
                reporter.write_line(f"LOG CHECK FAILED: {failure}", red=True)
        if failures and session.exitstatus == pytest.ExitCode.OK:
            session.exitstatus = pytest.ExitCode.TESTS_FAILED


@pytest.fixture(scope="session")
def system(tmp_path_factory: pytest.TempPathFactory) -> Iterator[System]:
    running = start_system(Path(tmp_path_factory.mktemp("system")))
    SESSION_SYSTEMS.append(running)
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
    """A gateway client that records every secret it is handed, for the end-of-session log check."""
    async with gateway_client(system) as gateway:
        yield gateway


@pytest.fixture
async def account(client: httpx.AsyncClient) -> Account:
    return await new_account(client)


@pytest.fixture
async def stream(client: httpx.AsyncClient) -> WriteStream:
    return await new_stream(client)
