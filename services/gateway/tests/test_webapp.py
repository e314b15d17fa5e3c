"""The web app's files at the gateway: caching, precompression, fallback, CSP, exclusions."""

import gzip
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from services.gateway.app.config import Settings
from services.gateway.app.main import create_app

SECRET = "k" * 8 + "unit-test-signing-key-0123456789"
INDEX = b"<!doctype html><title>Taskstream</title><script type=module src=/assets/app-1a2b.js>"
SCRIPT = b"console.log('app');" * 50


@pytest.fixture
def dist(tmp_path: Path) -> Path:
    (tmp_path / "assets").mkdir()
    (tmp_path / "index.html").write_bytes(INDEX)
    (tmp_path / "index.html.gz").write_bytes(gzip.compress(INDEX))
    (tmp_path / "assets" / "app-1a2b.js").write_bytes(SCRIPT)
    (tmp_path / "assets" / "app-1a2b.js.br").write_bytes(b"brotli-bytes")
    (tmp_path / "assets" / "app-1a2b.js.gz").write_bytes(gzip.compress(SCRIPT))
    (tmp_path / "sw.js").write_bytes(b"self.addEventListener('fetch', () => {});")
    (tmp_path / "manifest.webmanifest").write_bytes(b'{"name": "Taskstream"}')
    return tmp_path


@pytest.fixture
def client(dist: Path) -> TestClient:
    return TestClient(create_app(Settings(internal_signing_secret=SECRET, web_dist_dir=dist)))


def test_index_is_revalidated_with_an_etag_and_a_strict_csp(client: TestClient) -> None:
    response = client.get("/", headers={"Accept-Encoding": "identity"})
    assert response.status_code == 200
    assert response.content == INDEX
    assert response.headers["content-type"] == "text/html; charset=utf-8"
    assert response.headers["cache-control"] == "no-cache"
    csp = response.headers["content-security-policy"]
    assert "script-src 'self';" in csp
    assert "frame-ancestors 'none'" in csp
    assert "unsafe-eval" not in csp
    assert "'unsafe-inline'" not in csp.split("script-src", 1)[1].split(";", 1)[0]
    again = client.get("/", headers={"If-None-Match": response.headers["etag"]})
    assert again.status_code == 304
    assert again.content == b""


def test_client_routes_get_index_html(client: TestClient) -> None:
    for path in ("/signin", "/tasks/abc123", "/settings/api-keys", "/no/such/page"):
        response = client.get(path, headers={"Accept-Encoding": "identity"})
        assert response.status_code == 200, path
        assert response.content == INDEX, path


def test_assets_are_immutable_and_precompressed_by_accept_encoding(client: TestClient) -> None:
    path = "/assets/app-1a2b.js"
    brotli = client.get(path, headers={"Accept-Encoding": "gzip, deflate, br"})
    assert brotli.headers["content-encoding"] == "br"
    assert brotli.headers["cache-control"] == "public, max-age=31536000, immutable"
    assert "Accept-Encoding" in brotli.headers["vary"]
    assert brotli.headers["content-type"] == "text/javascript; charset=utf-8"
    # The test client does not decode br: the bytes are the precompressed file's.
    assert brotli.content == b"brotli-bytes"
    gzipped = client.get(path, headers={"Accept-Encoding": "gzip"})
    assert gzipped.headers["content-encoding"] == "gzip"
    assert gzipped.content == SCRIPT
    refused = client.get(path, headers={"Accept-Encoding": "br;q=0, gzip;q=0"})
    assert "content-encoding" not in refused.headers
    assert refused.content == SCRIPT


def test_missing_files_are_404_not_the_app(client: TestClient) -> None:
    for path in ("/assets/gone-0000.js", "/favicon.ico"):
        response = client.get(path)
        assert response.status_code == 404, path
        assert response.headers["content-type"] == "application/problem+json"


def test_service_worker_and_manifest_are_revalidated(client: TestClient) -> None:
    for path in ("/sw.js", "/manifest.webmanifest"):
        response = client.get(path)
        assert response.status_code == 200
        assert response.headers["cache-control"] == "no-cache"
    manifest = client.get("/manifest.webmanifest")
    assert manifest.headers["content-type"].startswith("application/manifest+json")


def test_gateway_paths_are_never_the_app(client: TestClient) -> None:
    assert client.get("/health").status_code == 200
    for path in ("/api/v1/nothing-here", "/.well-known/nothing", "/ofrep/v1/x", "/docs/assets/x"):
        response = client.get(path)
        assert response.headers["content-type"].startswith("application/"), path
        assert response.content != INDEX
    assert client.get("/docs").headers["content-type"].startswith("text/html")
    assert b"swagger" in client.get("/docs").content.lower()


def test_only_reads_are_served(client: TestClient) -> None:
    response = client.post("/signin", content=b"x")
    assert response.status_code in (404, 405)
    assert response.content != INDEX


def test_without_a_build_the_root_is_a_404(tmp_path: Path) -> None:
    settings = Settings(internal_signing_secret=SECRET, web_dist_dir=tmp_path / "missing")
    response = TestClient(create_app(settings)).get("/")
    assert response.status_code == 404
