"""Every service answers the operational endpoints the same way, with no network touched."""

import importlib
import pathlib

import pytest
from fastapi.testclient import TestClient

from services.gateway.app.ops import build_ops_app

SECRET = "unit-test-signing-key-0123456789abcdef"
SERVICES = ("gateway", "auth", "tasks", "search")


@pytest.fixture(params=SERVICES)
def service(request: pytest.FixtureRequest) -> str:
    name: str = request.param
    return name


@pytest.fixture
def client(service: str, monkeypatch: pytest.MonkeyPatch, tmp_path: pathlib.Path) -> TestClient:
    monkeypatch.setenv("INTERNAL_SIGNING_SECRET", SECRET)
    monkeypatch.setenv("AUTH_KEYS_DIR", str(tmp_path))
    monkeypatch.setenv("SEARCH_INDEX_DIR", str(tmp_path))
    config = importlib.import_module(f"services.{service}.app.config")
    main = importlib.import_module(f"services.{service}.app.main")
    # No lifespan: these endpoints must not depend on a store being reachable.
    return TestClient(main.create_app(config.Settings()))


def test_health_is_ok_and_echoes_a_sane_request_id(client: TestClient, service: str) -> None:
    response = client.get("/health", headers={"X-Request-ID": "abc-123"})
    assert response.status_code == 200
    assert response.json()["service"] == service
    assert response.headers["x-request-id"] == "abc-123"


def test_metrics_count_requests_by_route_template(client: TestClient, service: str) -> None:
    client.get("/health")
    scraper = client
    if service == "gateway":
        # The gateway's port is public: metrics are on its ops listener only.
        assert client.get("/metrics").status_code == 404
        scraper = TestClient(build_ops_app(client.app.state))  # type: ignore[attr-defined]
    response = scraper.get("/metrics")
    assert response.status_code == 200
    assert 'http_requests_total{method="GET",route="/health",status="200"}' in response.text


def test_unknown_route_is_problem_json_with_a_fresh_request_id(client: TestClient) -> None:
    # Under /api/: elsewhere the gateway answers with the web app when one is built.
    response = client.get("/api/v1/no-such-route", headers={"X-Request-ID": "bad id with spaces"})
    assert response.status_code == 404
    assert response.headers["content-type"] == "application/problem+json"
    body = response.json()
    assert body["status"] == 404
    assert body["request_id"] == response.headers["x-request-id"] != "bad id with spaces"
