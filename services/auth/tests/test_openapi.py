"""The auth OpenAPI document: what the gateway merges and Swagger UI shows."""

from typing import Any

import pytest

from services.auth.app.config import Settings
from services.auth.app.main import create_app

SECRET = "k" * 8 + "unit-test-signing-key-0123456789"


@pytest.fixture(scope="module")
def document() -> dict[str, Any]:
    schema: dict[str, Any] = create_app(Settings(internal_signing_secret=SECRET)).openapi()
    return schema


def test_public_paths_are_documented_and_internal_ones_hidden(document: dict[str, Any]) -> None:
    paths = set(document["paths"])
    assert {
        "/api/v1/auth/register",
        "/api/v1/auth/login",
        "/api/v1/auth/refresh",
        "/api/v1/auth/token",
        "/api/v1/auth/logout",
        "/api/v1/auth/logout-all",
        "/api/v1/auth/me",
        "/api/v1/auth/sessions",
        "/api/v1/auth/sessions/{session_id}",
        "/api/v1/auth/api-keys",
        "/api/v1/auth/api-keys/{key_id}",
        "/.well-known/jwks.json",
    } <= paths
    assert not any(path.startswith("/internal") for path in paths)


def test_token_endpoint_takes_a_form_and_documents_rfc_6749_errors(
    document: dict[str, Any],
) -> None:
    operation = document["paths"]["/api/v1/auth/token"]["post"]
    form = operation["requestBody"]["content"]["application/x-www-form-urlencoded"]["schema"]
    assert form["properties"]["grant_type"]["enum"] == ["password", "refresh_token"]
    assert {"200", "400", "429"} <= set(operation["responses"])


def test_error_responses_are_problem_json(document: dict[str, Any]) -> None:
    responses = document["paths"]["/api/v1/auth/register"]["post"]["responses"]
    assert "application/problem+json" in responses["409"]["content"]
