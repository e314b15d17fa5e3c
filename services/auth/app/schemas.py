"""Request and response models of the auth service."""

from datetime import datetime
from typing import Annotated, Literal

from pydantic import (
    AfterValidator,
    BaseModel,
    ConfigDict,
    Field,
    StringConstraints,
    field_validator,
)

from services.auth.app.apikeys import Scope
from services.auth.app.passwords import MAX_LENGTH, password_problem

# Deliberately loose (RFC 5321 allows a lot); the address is proven by use, not by a regex.
Email = Annotated[
    str,
    StringConstraints(
        strip_whitespace=True, to_lower=True, max_length=254, pattern=r"^[^@\s]+@[^@\s]+\.[^@\s]+$"
    ),
]


def _acceptable_password(password: str) -> str:
    problem = password_problem(password)
    if problem:
        raise ValueError(problem)
    return password


NewPassword = Annotated[str, AfterValidator(_acceptable_password)]
# Long enough for any real password; bounded so nobody makes us hash megabytes.
LoginPassword = Annotated[str, Field(min_length=1, max_length=4 * MAX_LENGTH)]
Name = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=100)]


class Strict(BaseModel):
    """A request body: unknown fields are refused, and so is text that is not valid Unicode."""

    model_config = ConfigDict(extra="forbid", strict=True)

    @field_validator("*")
    @classmethod
    def _encodable(cls, value: object) -> object:
        # JSON allows lone surrogates ("\ud800"); they cannot be hashed, stored or compared.
        if isinstance(value, str):
            try:
                value.encode()
            except UnicodeEncodeError as exc:
                raise ValueError("Text must be valid Unicode.") from exc
        return value


class RegisterRequest(Strict):
    email: Email
    password: NewPassword
    name: Name | None = None


class LoginRequest(Strict):
    email: Annotated[str, StringConstraints(max_length=254)]
    password: LoginPassword


class UserOut(BaseModel):
    id: str
    email: str
    name: str | None
    created_at: datetime


class AccessTokenOut(BaseModel):
    access_token: str
    token_type: Literal["Bearer"] = "Bearer"  # noqa: S105 - a token type, not a secret
    expires_in: int


class OAuthTokenOut(AccessTokenOut):
    refresh_token: str


class OAuthErrorOut(BaseModel):
    """RFC 6749 section 5.2."""

    error: Literal["invalid_request", "invalid_grant", "unsupported_grant_type"]
    error_description: str


class SessionOut(BaseModel):
    id: str
    created_at: datetime
    last_used_at: datetime
    user_agent: str | None
    current: bool


class ApiKeyCreate(Strict):
    name: Name
    scopes: Annotated[list[Scope], Field(min_length=1, max_length=3)]
    expires_in_days: Annotated[int, Field(ge=1, le=365)] = 90
    password: LoginPassword | None = Field(
        default=None,
        description="The account's password; needed unless the session signed in within"
        " the last 10 minutes.",
    )

    @field_validator("scopes")
    @classmethod
    def _distinct(cls, scopes: list[str]) -> list[str]:
        if len(set(scopes)) != len(scopes):
            raise ValueError("Each scope may be listed once.")
        return scopes


class ApiKeyOut(BaseModel):
    id: str
    name: str
    prefix: str
    scopes: list[Scope]
    created_at: datetime
    expires_at: datetime


class SessionList(BaseModel):
    items: list[SessionOut]
    api_keys: list[ApiKeyOut] = Field(
        description="The account's API keys that still work: they outlive every session."
    )


class LogoutAllRequest(Strict):
    revoke_api_keys: bool = False


class ApiKeyCreated(ApiKeyOut):
    key: str = Field(description="The full key. It is shown only once.")


class ApiKeyList(BaseModel):
    items: list[ApiKeyOut]


class ApiKeyResolveRequest(Strict):
    key: Annotated[str, StringConstraints(min_length=1, max_length=200)]


class ApiKeyResolved(BaseModel):
    user_id: str
    key_id: str
    scopes: list[Scope]
    expires_at: datetime


class SessionCheckRequest(Strict):
    session_id: Annotated[str, StringConstraints(min_length=1, max_length=64)]
    user_id: Annotated[str, StringConstraints(min_length=1, max_length=64)]
    issued_at: Annotated[int, Field(ge=0)]


class SessionCheckResult(BaseModel):
    active: bool


class Jwk(BaseModel):
    kty: str
    crv: str
    x: str
    kid: str
    alg: str
    use: Literal["sig"]


class Jwks(BaseModel):
    keys: list[Jwk]


class ProviderOut(BaseModel):
    id: str
    name: str


class ProviderList(BaseModel):
    items: list[ProviderOut]


class LinkRequest(Strict):
    return_to: Annotated[str, StringConstraints(max_length=2048)] | None = Field(
        default=None, description="A local path to land on afterwards (default /settings/accounts)."
    )


class LinkStarted(BaseModel):
    authorization_url: str = Field(description="Send the browser here; it returns to the callback.")


class IdentityOut(BaseModel):
    id: str
    provider: str
    subject: str
    email: str | None
    created_at: datetime


class IdentityList(BaseModel):
    items: list[IdentityOut]


class PasswordChange(Strict):
    new_password: NewPassword
    current_password: LoginPassword | None = Field(
        default=None, description="Required when the account already has a password."
    )
