"""Request validation: what a client may send, and how it is normalised."""

from typing import Any

import pytest
from pydantic import BaseModel, ValidationError

from services.auth.app.schemas import ApiKeyCreate, LoginRequest, RegisterRequest


def test_email_is_trimmed_and_lower_cased() -> None:
    body = RegisterRequest.model_validate(
        {"email": "  Ada@Example.COM ", "password": "an uncommon one"}
    )
    assert body.email == "ada@example.com"
    assert body.name is None


@pytest.mark.parametrize(
    "payload",
    [
        {"email": "ada@example.com", "password": "an uncommon one", "role": "admin"},
        {"email": "not-an-email", "password": "an uncommon one"},
        {"email": "ada@example.com", "password": "password123"},
        {"email": "ada@example.com", "password": 12345678901},
        {"email": "ada@example.com", "password": "an uncommon one", "name": "x" * 101},
        {"email": "a" * 250 + "@example.com", "password": "an uncommon one"},
        {"email": ["ada@example.com"], "password": "an uncommon one"},
    ],
)
def test_bad_registrations_are_refused(payload: dict[str, Any]) -> None:
    with pytest.raises(ValidationError):
        RegisterRequest.model_validate(payload)


def test_login_accepts_any_password_but_a_huge_one() -> None:
    LoginRequest.model_validate({"email": "x", "password": "short"})
    with pytest.raises(ValidationError):
        LoginRequest.model_validate({"email": "x", "password": "p" * 10_000})


@pytest.mark.parametrize("days", [0, 3651, "30", 1.5])
def test_api_key_expiry_is_a_whole_number_of_days_within_ten_years(days: Any) -> None:
    with pytest.raises(ValidationError):
        ApiKeyCreate.model_validate({"name": "ci", "expires_in_days": days})


@pytest.mark.parametrize(
    ("model", "payload"),
    [
        (RegisterRequest, {"email": "a@b.test", "password": "lone \ud800 surrogate"}),
        (LoginRequest, {"email": "a\udfff@b.test", "password": "whatever"}),
        (ApiKeyCreate, {"name": "\ud800"}),
    ],
)
def test_text_that_is_not_valid_unicode_is_refused(
    model: type[BaseModel], payload: dict[str, Any]
) -> None:
    with pytest.raises(ValidationError):
        model.model_validate(payload)
