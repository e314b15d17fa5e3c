"""Which upstream serves a public path, whether it needs credentials, and its metric label."""

from dataclasses import dataclass

# Public routes: no credentials needed; limited per client address instead of per user.
PUBLIC_PATHS = frozenset(
    {
        "/api/v1/auth/register",
        "/api/v1/auth/login",
        "/api/v1/auth/refresh",
        "/api/v1/auth/token",
        "/api/v1/auth/oidc/providers",
        "/.well-known/jwks.json",
    }
)
# Social sign-in steps a browser takes before it has a token: /api/v1/auth/oidc/<id>/<step>.
PUBLIC_OIDC_STEPS = frozenset({"authorize", "callback"})
# Path segments that are part of a route; any other segment is an id in the metric label.
STATIC_SEGMENTS = frozenset(
    {
        "api", "v1", "auth", "tasks", "search", "stats", "register", "login", "refresh",
        "token", "logout", "logout-all", "me", "sessions", "api-keys", ".well-known",
        "jwks.json", "events", "stream", "oidc", "providers", "identities", "password",
    }
)  # fmt: skip


# What an API key needs per service: reads and writes of tasks, reads of search. Auth's own
# routes need none here; auth refuses keys on key and session management itself.
READ_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})


def required_scope(service: str, method: str) -> str | None:
    if service == "tasks":
        return "tasks:read" if method in READ_METHODS else "tasks:write"
    if service == "search":
        return "search:read"
    return None


@dataclass(frozen=True, slots=True)
class RouteLabel:
    """What ``RequestContextMiddleware`` reads as ``scope["route"].path``."""

    path: str


@dataclass(frozen=True, slots=True)
class Target:
    service: str
    public: bool
    label: RouteLabel
    # A long-lived response (SSE): its own connection budget, relayed until the client leaves.
    stream: bool = False


STREAM_PATHS = frozenset({"/api/v1/events/stream"})


def upstream_service(path: str) -> str | None:
    if path.startswith("/api/v1/auth/") or path == "/.well-known/jwks.json":
        return "auth"
    if path == "/api/v1/tasks" or path.startswith(("/api/v1/tasks/", "/api/v1/events/")):
        return "tasks"
    if path == "/api/v1/search" or path.startswith("/api/v1/search/"):
        return "search"
    return None


def has_dot_segment(path: str) -> bool:
    """``..`` or ``.`` segments could be normalised into another route further down."""
    if "." not in path:  # most paths: no dot at all, no need to split
        return False
    return any(segment in (".", "..") for segment in path.split("/"))


MAX_LABEL_SEGMENTS = 6


def route_label(path: str) -> RouteLabel:
    """A low-cardinality template: ids become ``{id}``, anything deeper than a route ``*``."""
    parts = path.split("/")
    segments = [s if s in STATIC_SEGMENTS or not s else "{id}" for s in parts[:MAX_LABEL_SEGMENTS]]
    if len(parts) > MAX_LABEL_SEGMENTS:
        segments.append("*")
    return RouteLabel("/".join(segments))


def is_public(path: str) -> bool:
    """A public route's path, or its OpenAPI template (``/api/v1/auth/oidc/{provider}/...``)."""
    if path in PUBLIC_PATHS:
        return True
    parts = path.split("/")
    return (
        len(parts) == 7
        and parts[:5] == ["", "api", "v1", "auth", "oidc"]
        and bool(parts[5])
        and parts[6] in PUBLIC_OIDC_STEPS
    )


def resolve(path: str) -> Target | None:
    """The target of a proxied path, or ``None`` when the gateway itself answers (404).

    A trailing slash is never forwarded: the services would redirect it to their own
    address, and no public route ends in one.
    """
    service = upstream_service(path)
    if service is None or has_dot_segment(path) or path.endswith("/"):
        return None
    return Target(service, is_public(path), route_label(path), path in STREAM_PATHS)
