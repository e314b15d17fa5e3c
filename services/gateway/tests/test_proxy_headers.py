"""What the proxy forwards and returns: no identity claims, no hop-by-hop fields."""

import pytest

from services.gateway.app.proxy import (
    forwarded_request_headers,
    internal_hosts,
    public_location,
    returned_response_headers,
)
from services.gateway.app.routing import required_scope, resolve, route_label

CLIENT_HEADERS = [
    (b"host", b"api.example.test"),
    (b"authorization", b"Bearer abc"),
    (b"x-taskstream-identity", b"forged.mac"),
    (b"x-user-id", b"admin"),
    (b"x-forwarded-for", b"6.6.6.6"),
    (b"connection", b"keep-alive, x-secret-hop"),
    (b"x-secret-hop", b"1"),
    (b"te", b"trailers"),
    (b"content-type", b"application/json"),
    (b"content-length", b"12"),
    (b"cookie", b"refresh_token=r"),
    (b"x-api-key", b"tsk_x"),
    (b"x-csrf-token", b"c"),
]
CREDENTIALS = ("authorization", "cookie", "x-api-key", "x-csrf-token")


def test_identity_claims_and_hop_by_hop_fields_are_dropped() -> None:
    forwarded = dict(
        forwarded_request_headers(
            CLIENT_HEADERS, client_ip="10.0.0.7", scheme="https", service="auth"
        )
    )
    for name in (
        "x-taskstream-identity",
        "x-user-id",
        "connection",
        "x-secret-hop",
        "te",
        "host",
        "content-length",  # the upstream client frames the bytes the gateway holds
    ):
        assert name not in forwarded
    assert all(forwarded[name] for name in CREDENTIALS)
    assert forwarded["x-forwarded-for"] == "10.0.0.7"
    assert forwarded["x-forwarded-proto"] == "https"
    assert forwarded["x-forwarded-host"] == "api.example.test"
    assert "x-request-id" in forwarded
    assert "traceparent" in forwarded


@pytest.mark.parametrize("service", ["tasks", "search"])
def test_credentials_go_to_auth_alone(service: str) -> None:
    forwarded = dict(
        forwarded_request_headers(
            CLIENT_HEADERS, client_ip="10.0.0.7", scheme="https", service=service
        )
    )
    assert not set(forwarded) & set(CREDENTIALS)
    assert forwarded["content-type"] == "application/json"


INTERNAL = internal_hosts(["http://127.0.0.1:8002", "https://tasks:8000", "http://127.0.0.1:8001"])


@pytest.mark.parametrize(
    ("location", "public"),
    [
        (b"http://127.0.0.1:8002/api/v1/tasks", b"/api/v1/tasks"),
        (b"https://tasks:8000/api/v1/tasks/1?x=1", b"/api/v1/tasks/1?x=1"),
        (b"//127.0.0.1:8002/api/v1/tasks", b"/api/v1/tasks"),
        (b"/api/v1/tasks/abc", b"/api/v1/tasks/abc"),
    ],
)
def test_an_upstream_location_never_names_its_host(location: bytes, public: bytes) -> None:
    assert public_location(location, INTERNAL) == public
    assert returned_response_headers([(b"Location", location)], INTERNAL) == [(b"location", public)]


@pytest.mark.parametrize(
    "location",
    [
        b"https://accounts.example.test/authorize?client_id=x&state=y",
        b"https://accounts.google.com/o/oauth2/v2/auth?state=s&code_challenge=c",
        b"http://127.0.0.1:8070/google/authorize?response_type=code",
        b"https://app.example.test/tasks",
    ],
)
def test_a_location_outside_the_upstreams_is_passed_on(location: bytes) -> None:
    # Social sign-in redirects the browser to its identity provider: that URL must survive.
    assert public_location(location, INTERNAL) == location


def test_a_trailing_slash_is_never_forwarded() -> None:
    for path in ("/api/v1/tasks/", "/api/v1/search/", "/api/v1/auth/sessions/"):
        assert resolve(path) is None


def test_api_key_scopes_per_service_and_method() -> None:
    assert required_scope("tasks", "GET") == "tasks:read"
    assert required_scope("tasks", "HEAD") == "tasks:read"
    for method in ("POST", "PATCH", "PUT", "DELETE"):
        assert required_scope("tasks", method) == "tasks:write"
    assert required_scope("search", "GET") == "search:read"
    assert required_scope("auth", "GET") is None


def test_response_hop_by_hop_fields_and_duplicates_of_ours_are_dropped() -> None:
    upstream = [
        (b"Content-Type", b"application/json"),
        (b"Transfer-Encoding", b"chunked"),
        (b"Connection", b"close"),
        (b"Server", b"uvicorn"),
        (b"ETag", b'"3"'),
    ]
    assert returned_response_headers(upstream, INTERNAL) == [
        (b"content-type", b"application/json"),
        (b"etag", b'"3"'),
    ]


def test_routes_by_prefix_and_never_internal() -> None:
    cases = {
        "/api/v1/tasks": "tasks",
        "/api/v1/tasks/abc": "tasks",
        "/api/v1/search": "search",
        "/api/v1/auth/login": "auth",
        "/.well-known/jwks.json": "auth",
    }
    for path, service in cases.items():
        target = resolve(path)
        assert target is not None
        assert target.service == service
    for path in (
        "/internal/v1/api-keys/resolve",
        "/api/v1/tasksx",
        "/api/v1/tasks/../../internal/x",
        "/",
    ):
        assert resolve(path) is None


def test_public_routes_are_exactly_the_credential_free_ones() -> None:
    paths = ("/api/v1/auth/login", "/api/v1/auth/logout", "/api/v1/auth/me", "/api/v1/tasks")
    targets = {path: resolve(path) for path in paths}
    assert {path for path, target in targets.items() if target and target.public} == {
        "/api/v1/auth/login"
    }


def test_metric_labels_replace_ids_with_a_placeholder() -> None:
    assert route_label("/api/v1/tasks/65f0c0ffee").path == "/api/v1/tasks/{id}"
    assert route_label("/api/v1/tasks/stats").path == "/api/v1/tasks/stats"
    assert route_label("/api/v1/auth/sessions/s-1").path == "/api/v1/auth/sessions/{id}"
    assert route_label("/api/v1/tasks/a/b/c/d").path == "/api/v1/tasks/{id}/{id}/*"
