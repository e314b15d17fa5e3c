"""Edge behaviour that needs no upstream: security headers, CORS, size limits, docs."""

import pytest
from fastapi.testclient import TestClient

from services.gateway.app.config import Settings
from services.gateway.app.main import create_app

SECRET = "k" * 8 + "unit-test-signing-key-0123456789"
ORIGIN = "http://app.example.test"


@pytest.fixture
def client() -> TestClient:
    settings = Settings(internal_signing_secret=SECRET, cors_origins=[ORIGIN])
    return TestClient(create_app(settings))


# httpx asks for gzip by default; ``identity`` takes the edge's path without CORS and gzip.
ENCODINGS = ["gzip, deflate", "identity"]


@pytest.mark.parametrize("encoding", ENCODINGS)
def test_every_response_carries_the_security_headers(client: TestClient, encoding: str) -> None:
    headers = {"Accept-Encoding": encoding}
    for response in (client.get("/health", headers=headers), client.get("/nope", headers=headers)):
        assert response.headers["x-content-type-options"] == "nosniff"
        assert "max-age=" in response.headers["strict-transport-security"]
        assert "frame-ancestors 'none'" in response.headers["content-security-policy"]
        assert response.headers["referrer-policy"] == "no-referrer"


def test_preflight_from_an_allowed_origin_is_answered_at_the_gateway(client: TestClient) -> None:
    response = client.options(
        "/api/v1/tasks",
        headers={"Origin": ORIGIN, "Access-Control-Request-Method": "POST",
                 "Access-Control-Request-Headers": "authorization, content-type"},
    )  # fmt: skip
    assert response.status_code == 200
    assert response.headers["access-control-allow-origin"] == ORIGIN
    assert response.headers["access-control-allow-credentials"] == "true"


def test_other_origins_get_no_cors_grant(client: TestClient) -> None:
    response = client.options(
        "/api/v1/tasks",
        headers={"Origin": "https://evil.example", "Access-Control-Request-Method": "POST"},
    )
    assert response.status_code == 400
    assert response.headers["content-type"] == "application/problem+json"
    assert "access-control-allow-origin" not in response.headers
    plain = client.get("/health", headers={"Origin": "https://evil.example"})
    assert "access-control-allow-origin" not in plain.headers


@pytest.mark.parametrize("encoding", ENCODINGS)
def test_a_long_url_is_414_and_big_headers_are_431(client: TestClient, encoding: str) -> None:
    long_url = client.get("/api/v1/tasks?q=" + "a" * 9000, headers={"Accept-Encoding": encoding})
    assert long_url.status_code == 414
    assert long_url.headers["content-type"] == "application/problem+json"
    assert long_url.headers["x-content-type-options"] == "nosniff"
    many = {f"x-h{i}": "v" * 1000 for i in range(20)}
    big = client.get("/api/v1/tasks", headers={**many, "Accept-Encoding": encoding})
    assert big.status_code == 431


@pytest.mark.parametrize("encoding", ENCODINGS)
def test_a_declared_body_over_one_mebibyte_is_413_before_it_is_read(
    client: TestClient, encoding: str
) -> None:
    body = b"x" * (1024 * 1024 + 1)
    response = client.post("/api/v1/tasks", content=body, headers={"Accept-Encoding": encoding})
    assert response.status_code == 413
    assert response.json()["status"] == 413


def test_a_large_uncompressed_response_still_varies_on_accept_encoding(
    client: TestClient,
) -> None:
    large = client.get("/docs/assets/swagger-ui.css", headers={"Accept-Encoding": "identity"})
    assert "content-encoding" not in large.headers
    assert "Accept-Encoding" in large.headers["vary"]
    small = client.get("/health", headers={"Accept-Encoding": "identity"})
    assert "vary" not in small.headers


def test_a_cross_origin_request_gets_its_grant_without_asking_for_gzip(
    client: TestClient,
) -> None:
    response = client.get("/health", headers={"Origin": ORIGIN, "Accept-Encoding": "identity"})
    assert response.headers["access-control-allow-origin"] == ORIGIN
    assert response.headers["x-frame-options"] == "DENY"


def test_internal_routes_are_not_routed(client: TestClient) -> None:
    assert client.post("/internal/v1/api-keys/resolve", json={"key": "k"}).status_code == 404


def test_swagger_ui_loads_from_local_assets_under_a_csp_that_allows_its_script(
    client: TestClient,
) -> None:
    page = client.get("/docs")
    assert page.status_code == 200
    csp = page.headers["content-security-policy"]
    assert "script-src 'self' 'sha256-" in csp
    assert "frame-ancestors 'none'" in csp
    assert "cdn" not in page.text
    asset = client.get("/docs/assets/swagger-ui-bundle.js")
    assert asset.status_code == 200
    assert asset.headers["content-type"].startswith(("application/javascript", "text/javascript"))


def test_large_responses_are_gzipped_when_accepted(client: TestClient) -> None:
    response = client.get("/docs/assets/swagger-ui.css", headers={"Accept-Encoding": "gzip"})
    assert response.headers["content-encoding"] == "gzip"
