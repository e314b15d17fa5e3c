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
        "jwks.json", "oidc", "providers", "identities", "password",
    }
)  # fmt: skip


@dataclass(frozen=True, slots=True)
class RouteLabel:
    """What ``RequestContextMiddleware`` reads as ``scope["route"].path``."""

    path: str


@dataclass(frozen=True, slots=True)
class Target:
    service: str
    public: bool
    label: RouteLabel


def upstream_service(path: str) -> str | None:
    if path.startswith("/api/v1/auth/") or path == "/.well-known/jwks.json":
        return "auth"
    if path == "/api/v1/tasks" or path.startswith("/api/v1/tasks/"):
        return "tasks"
    if path == "/api/v1/search" or path.startswith("/api/v1/search/"):
        return "search"
    return None


def has_dot_segment(path: str) -> bool:
    """``..`` or ``.`` segments could be normalised into another route further down."""
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
    """The target of a proxied path, or ``None`` when the gateway itself answers (404)."""
    service = upstream_service(path)
    if service is None or has_dot_segment(path):
        return None
    return Target(service, is_public(path), route_label(path))
