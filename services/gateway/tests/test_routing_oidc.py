"""Social sign-in routes: the browser's steps are public, the account's are not."""

import pytest

from services.gateway.app.routing import is_public, resolve


@pytest.mark.parametrize(
    "path",
    [
        "/api/v1/auth/oidc/providers",
        "/api/v1/auth/oidc/google/authorize",
        "/api/v1/auth/oidc/github/callback",
        "/api/v1/auth/oidc/{provider}/authorize",  # the OpenAPI template
    ],
)
def test_the_browser_steps_need_no_credentials(path: str) -> None:
    target = resolve(path)
    assert target is not None
    assert target.service == "auth"
    assert target.public
    assert is_public(path)


@pytest.mark.parametrize(
    "path",
    [
        "/api/v1/auth/oidc/google/link",
        "/api/v1/auth/identities",
        "/api/v1/auth/identities/abc",
        "/api/v1/auth/password",
        "/api/v1/auth/oidc//authorize",
        "/api/v1/auth/oidc/google/authorize/extra",
        "/api/v1/auth/oidc/google/../../me",
    ],
)
def test_account_changes_need_a_token(path: str) -> None:
    target = resolve(path)
    assert target is None or not target.public


def test_metric_labels_keep_the_provider_out() -> None:
    # Auth's own metrics tell the steps apart; the gateway's label only needs to stay bounded.
    target = resolve("/api/v1/auth/oidc/google/callback")
    assert target is not None
    assert target.label.path == "/api/v1/auth/oidc/{id}/*"
