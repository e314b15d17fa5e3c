"""AUTH_OIDC_PROVIDERS and AUTH_PUBLIC_URL: parsed from the environment, refused when unsafe."""

import json
from typing import Any

import pytest
from pydantic import ValidationError

from services.auth.app.config import Settings

SECRET = "k" * 8 + "unit-test-signing-key-0123456789"
GOOGLE = {
    "id": "google",
    "name": "Google",
    "issuer": "https://accounts.google.com",
    "client_id": "1234.apps.googleusercontent.com",
    "client_secret": "GOCSPX-abcdefghijklmnopqrstuvwxyz",
}


def settings_from_env(
    monkeypatch: pytest.MonkeyPatch, providers: list[dict[str, Any]], **env: str
) -> Settings:
    monkeypatch.setenv("INTERNAL_SIGNING_SECRET", SECRET)
    monkeypatch.setenv("AUTH_OIDC_PROVIDERS", json.dumps(providers))
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    return Settings()


def test_providers_come_from_json_with_defaults(monkeypatch: pytest.MonkeyPatch) -> None:
    settings = settings_from_env(monkeypatch, [GOOGLE], AUTH_PUBLIC_URL="https://tasks.example.com")

    (google,) = settings.oidc_providers
    assert (google.id, google.name, google.issuer) == ("google", "Google", GOOGLE["issuer"])
    assert google.client_secret.get_secret_value() == GOOGLE["client_secret"]
    assert google.scopes == "openid email profile"
    assert google.token_endpoint_auth_method == "client_secret_basic"
    assert google.discovery_url == "https://accounts.google.com/.well-known/openid-configuration"
    assert settings.oidc_redirect_uri("google") == (
        "https://tasks.example.com/api/v1/auth/oidc/google/callback"
    )


def test_no_providers_is_the_default_and_needs_no_public_url(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("INTERNAL_SIGNING_SECRET", SECRET)
    assert Settings().oidc_providers == []


def test_plain_http_is_allowed_on_loopback_only(monkeypatch: pytest.MonkeyPatch) -> None:
    local = {**GOOGLE, "issuer": "http://127.0.0.1:8070/google"}
    settings = settings_from_env(monkeypatch, [local], AUTH_PUBLIC_URL="http://localhost:8000")
    assert settings.oidc_providers[0].issuer == "http://127.0.0.1:8070/google"

    with pytest.raises(ValidationError, match="https"):
        settings_from_env(monkeypatch, [{**GOOGLE, "issuer": "http://idp.example.com"}])


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"id": "Google!"}, "id"),
        ({"name": ""}, "name"),
        ({"client_secret": ""}, "placeholder"),
        ({"client_secret": "changeme"}, "placeholder"),
        ({"scopes": "email profile"}, "openid"),
        ({"issuer": "https://idp.example.com/?tenant=1"}, "query"),
        ({"issuer": "accounts.google.com"}, "absolute"),
        ({"token_endpoint_auth_method": "none"}, "token_endpoint_auth_method"),
        ({"unexpected": "field"}, "unexpected"),
    ],
)
def test_unsafe_or_malformed_providers_are_refused(
    monkeypatch: pytest.MonkeyPatch, change: dict[str, str], message: str
) -> None:
    with pytest.raises(ValidationError, match=message):
        settings_from_env(
            monkeypatch, [{**GOOGLE, **change}], AUTH_PUBLIC_URL="https://tasks.example.com"
        )


def test_provider_ids_are_unique(monkeypatch: pytest.MonkeyPatch) -> None:
    with pytest.raises(ValidationError, match="unique"):
        settings_from_env(
            monkeypatch, [GOOGLE, {**GOOGLE, "name": "Other"}], AUTH_PUBLIC_URL="https://a.example"
        )


@pytest.mark.parametrize("public_url", [None, "http://tasks.example.com", "/relative"])
def test_providers_need_a_public_https_url(
    monkeypatch: pytest.MonkeyPatch, public_url: str | None
) -> None:
    env = {"AUTH_PUBLIC_URL": public_url} if public_url else {}
    with pytest.raises(ValidationError, match="AUTH_PUBLIC_URL"):
        settings_from_env(monkeypatch, [GOOGLE], **env)


def test_malformed_json_is_refused(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("INTERNAL_SIGNING_SECRET", SECRET)
    monkeypatch.setenv("AUTH_OIDC_PROVIDERS", "[{not json")
    with pytest.raises(Exception, match="oidc_providers"):
        Settings()
