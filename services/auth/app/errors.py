"""Domain errors of the auth service and the one place they map to HTTP statuses."""

from shared.identity import InvalidIdentity
from shared.problems import DomainError, ProblemMap


class EmailTaken(DomainError):
    """An account with this (normalised) email exists."""


class InvalidCredentials(DomainError):
    """Wrong password or unknown email: deliberately indistinguishable."""


class LoginThrottled(DomainError):
    """Too many failed logins for this account or client address."""

    def __init__(self, retry_after: int) -> None:
        super().__init__("Too many failed logins; try again later.")
        self.headers = {"Retry-After": str(max(1, retry_after))}


class InvalidRefreshToken(DomainError):
    """Unknown, expired, revoked or already rotated refresh token."""


class CsrfRejected(DomainError):
    """The X-CSRF-Token header is missing or does not match the csrf_token cookie."""


class SessionNotFound(DomainError):
    """No active session with this id belongs to the caller."""


class ApiKeyNotFound(DomainError):
    """No API key with this id belongs to the caller."""


class ApiKeyLimitReached(DomainError):
    """The caller already holds the maximum number of API keys."""


class InvalidApiKey(DomainError):
    """Unknown, deleted or expired API key."""


class ApiKeyNotAllowed(DomainError):
    """API keys cannot manage API keys or sessions; that takes a signed-in session."""


class RecentSignInRequired(DomainError):
    """Creating an API key needs a recent sign-in or the account's password."""


class NotTheGateway(DomainError):
    """An internal route was called by something other than the gateway."""


class UnknownProvider(DomainError):
    """No social sign-in provider is configured under this id."""


class SignInProviderDown(DomainError):
    """The provider's discovery document or keys could not be fetched."""

    def __init__(self, detail: str) -> None:
        super().__init__(detail)
        self.headers = {"Retry-After": "5"}


class SocialSignInFailed(DomainError):
    """A callback that signs nobody in; ``code`` goes to ``/signin?error=``, never a body."""

    def __init__(self, code: str) -> None:
        super().__init__("Social sign-in failed.")
        self.code = code


class IdentityNotFound(DomainError):
    """No linked provider identity with this id belongs to the caller."""


class LastSignInMethod(DomainError):
    """Unlinking would leave the account with no way to sign in."""


class PasswordConfirmationFailed(DomainError):
    """Changing a password needs the current one, and it was missing or wrong."""


PROBLEM_STATUSES: ProblemMap = {
    InvalidIdentity: 401,
    EmailTaken: 409,
    InvalidCredentials: 401,
    LoginThrottled: 429,
    InvalidRefreshToken: 401,
    CsrfRejected: 403,
    SessionNotFound: 404,
    ApiKeyNotFound: 404,
    ApiKeyLimitReached: 409,
    InvalidApiKey: 401,
    ApiKeyNotAllowed: 403,
    RecentSignInRequired: 403,
    NotTheGateway: 403,
    UnknownProvider: 404,
    SignInProviderDown: 503,
    SocialSignInFailed: 400,
    IdentityNotFound: 404,
    LastSignInMethod: 409,
    PasswordConfirmationFailed: 403,
}
