"""Domain errors of the gateway service and the one place they map to HTTP statuses."""

from services.gateway.app.ratelimit import Decision, Policy
from shared.identity import InvalidIdentity
from shared.problems import DomainError, ProblemMap


class NotAuthenticated(DomainError):
    """No usable credentials; ``reason`` labels the auth-failure metric."""

    def __init__(self, reason: str, detail: str = "Authentication required.") -> None:
        super().__init__(detail)
        self.reason = reason
        challenge = "Bearer" if reason == "missing" else 'Bearer error="invalid_token"'
        self.headers = {"WWW-Authenticate": challenge}


class TokenRejected(NotAuthenticated):
    def __init__(self, reason: str) -> None:
        super().__init__(reason, "The access token is not valid.")


class RateLimited(DomainError):
    """The subject has used up its burst; the headers say when to come back."""

    def __init__(self, detail: str, policy: Policy, decision: Decision) -> None:
        super().__init__(detail)
        self.headers = {k.decode(): v.decode() for k, v in decision.headers(policy)}


class CredentialsThrottled(DomainError):
    """Too many invalid credentials from one client address: refused before any lookup."""

    def __init__(self, *, retry_after: int) -> None:
        super().__init__("Too many invalid credentials from this address; try again later.")
        self.headers = {"Retry-After": str(max(1, retry_after))}


class MissingScope(DomainError):
    """The API key does not carry the scope this route needs."""


class UpstreamUnavailable(DomainError):
    """Every replica of a service is failing or has its circuit open."""

    def __init__(self, detail: str, *, retry_after: int) -> None:
        super().__init__(detail)
        self.headers = {"Retry-After": str(retry_after)}


class RevocationUnverifiable(DomainError):
    """Redis is down and auth cannot say whether the credentials were revoked: fail closed."""

    def __init__(self, *, retry_after: int) -> None:
        super().__init__("Credentials cannot be checked right now; try again shortly.")
        self.headers = {"Retry-After": str(retry_after)}


class BadUpstream(DomainError):
    """The upstream could not be reached or answered with something that is not HTTP."""


class UpstreamTimeout(DomainError):
    """The upstream did not answer within the read timeout."""


class BodyTooLarge(DomainError):
    """The request body exceeds the gateway's limit."""


class BodyTimeout(DomainError):
    """The client did not send its whole body within the gateway's deadline."""


class UnforwardableRequest(DomainError):
    """The request target or a header cannot be sent on as HTTP/1.1."""


class UriTooLong(DomainError):
    """The request target is longer than the gateway accepts."""

    title = "URI Too Long"


class HeadersTooLarge(DomainError):
    """The request's header section is larger than the gateway accepts."""


PROBLEM_STATUSES: ProblemMap = {
    InvalidIdentity: 401,
    NotAuthenticated: 401,
    UnforwardableRequest: 400,
    MissingScope: 403,
    BodyTimeout: 408,
    BodyTooLarge: 413,
    UriTooLong: 414,
    HeadersTooLarge: 431,
    RateLimited: 429,
    CredentialsThrottled: 429,
    BadUpstream: 502,
    UpstreamUnavailable: 503,
    RevocationUnverifiable: 503,
    UpstreamTimeout: 504,
}
