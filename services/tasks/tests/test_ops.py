"""The operational endpoints answer without any network dependency being touched."""

import pytest
from fastapi.testclient import TestClient

from services.tasks.app.config import Settings
from services.tasks.app.main import create_app

SECRET = "k" * 8 + "unit-test-signing-key-0123456789"


@pytest.fixture
def client() -> TestClient:
    return TestClient(create_app(Settings(internal_signing_secret=SECRET)))


def test_health_is_ok_and_carries_a_request_id(client: TestClient) -> None:
    response = client.get("/health", headers={"X-Request-ID": "abc-123"})
    assert response.status_code == 200
    assert response.json()["service"] == "tasks"
    assert response.headers["x-request-id"] == "abc-123"


def test_metrics_are_prometheus_text(client: TestClient) -> None:
    client.get("/health")
    response = client.get("/metrics")
    assert response.status_code == 200
    assert 'http_requests_total{method="GET",route="/health",status="200"}' in response.text


def test_unknown_route_is_problem_json(client: TestClient) -> None:
    response = client.get("/nope", headers={"X-Request-ID": "bad id with spaces"})
    assert response.status_code == 404
    assert response.headers["content-type"] == "application/problem+json"
    body = response.json()
    assert body["status"] == 404
    assert body["request_id"] == response.headers["x-request-id"] != "bad id with spaces"
