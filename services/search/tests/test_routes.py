"""The search route's contract checks that need no network: identity, validation, schema."""

from collections.abc import Mapping
from urllib.parse import urlencode

import pytest
from fastapi.testclient import TestClient
from prometheus_client import CollectorRegistry
from redis.asyncio import Redis

from services.search.app.config import Settings
from services.search.app.consumer import writer_thread
from services.search.app.invalidator import CacheInvalidator
from services.search.app.main import create_app
from services.search.app.metrics import ProjectionMetrics
from services.search.app.runtime import SearchRuntime
from shared.consistency import ConsistencyTokens
from shared.flags import Flags
from shared.identity import Identity, sign_identity

SECRET = "k" * 8 + "unit-test-signing-key-0123456789"
PATH = "/api/v1/search"


@pytest.fixture
def client() -> TestClient:
    settings = Settings(internal_signing_secret=SECRET)
    app = create_app(settings)
    # What the lifespan would set, minus its I/O: nothing here connects until first used.
    app.state.redis = Redis.from_url(settings.redis_url)
    metrics = ProjectionMetrics(CollectorRegistry())
    invalidator = CacheInvalidator(app.state.redis)
    app.state.runtime = SearchRuntime(
        settings=settings, metrics=metrics, invalidator=invalidator, writer=writer_thread()
    )
    # Not started: no file is read, and every flag answers its code default.
    app.state.flags = Flags(settings.flags_file, poll_ms=500, domain="search-route-tests")
    app.state.consistency_tokens = ConsistencyTokens(SECRET)
    return TestClient(app)


def signed(params: Mapping[str, object]) -> dict[str, str]:
    """Signed for this exact query, as the gateway signs it."""
    identity = Identity(user_id="alice", via="jwt")
    query = urlencode(params).encode()
    header = sign_identity(identity, secret=SECRET.encode(), method="GET", path=PATH, query=query)
    return {"X-Taskstream-Identity": header}


def test_without_a_signed_identity_it_is_401(client: TestClient) -> None:
    response = client.get(PATH, params={"q": "x"})
    assert response.status_code == 401
    assert response.headers["content-type"] == "application/problem+json"


@pytest.mark.parametrize(
    "params",
    [{"q": ""}, {"q": "x" * 201}, {}, {"q": "a", "limit": 101}, {"q": "a", "offset": -1}],
)
def test_bad_parameters_are_422_without_echoing_input(
    client: TestClient, params: dict[str, str | int]
) -> None:
    response = client.get(PATH, params=params, headers=signed(params))
    assert response.status_code == 422
    body = response.json()
    assert body["errors"]
    assert "x" * 201 not in response.text


def test_openapi_documents_the_route_and_its_problems(client: TestClient) -> None:
    operation = client.get("/openapi.json").json()["paths"][PATH]["get"]
    assert {"200", "401", "422", "503"} <= set(operation["responses"])
    assert {p["name"] for p in operation["parameters"]} >= {"q", "status", "tag", "limit"}


def test_before_the_index_has_caught_up_it_is_503_with_retry_after(client: TestClient) -> None:
    response = client.get(PATH, params={"q": "groceries"}, headers=signed({"q": "groceries"}))
    assert response.status_code == 503
    assert response.headers["retry-after"]
    assert response.headers["content-type"] == "application/problem+json"
