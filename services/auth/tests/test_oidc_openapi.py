"""Social sign-in in the auth OpenAPI document, which the gateway merges and the web app's
generated types come from."""

from typing import Any

import pytest

from services.auth.app.config import Settings
from services.auth.app.main import create_app

SECRET = "k" * 8 + "unit-test-signing-key-0123456789"


@pytest.fixture(scope="module")
def paths() -> dict[str, Any]:
    document: dict[str, Any] = create_app(Settings(internal_signing_secret=SECRET)).openapi()
    found: dict[str, Any] = document["paths"]
    return found


def test_the_social_sign_in_routes_are_documented(paths: dict[str, Any]) -> None:
    assert {
        ("get", "/api/v1/auth/oidc/providers"),
        ("get", "/api/v1/auth/oidc/{provider}/authorize"),
        ("get", "/api/v1/auth/oidc/{provider}/callback"),
        ("post", "/api/v1/auth/oidc/{provider}/link"),
        ("get", "/api/v1/auth/identities"),
        ("delete", "/api/v1/auth/identities/{identity_id}"),
        ("post", "/api/v1/auth/password"),
    } <= {(method, path) for path, item in paths.items() for method in item}


def test_the_browser_steps_answer_with_redirects(paths: dict[str, Any]) -> None:
    for step in ("authorize", "callback"):
        assert "302" in paths[f"/api/v1/auth/oidc/{{provider}}/{step}"]["get"]["responses"]


def test_unlinking_the_last_way_in_is_a_documented_conflict(paths: dict[str, Any]) -> None:
    responses = paths["/api/v1/auth/identities/{identity_id}"]["delete"]["responses"]
    assert "application/problem+json" in responses["409"]["content"]
