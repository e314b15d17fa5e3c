"""The gateway-signed identity: only the exact, fresh, untampered header is accepted."""

import pytest

from shared.derived_keys import derive_key
from shared.identity import Identity, InvalidIdentity, sign_identity, verify_identity

SECRET = b"unit-test-signing-key-0123456789abcdef"
ALICE = Identity(user_id="alice", via="jwt", session_id="s1")


def signed(method: str = "GET", path: str = "/api/v1/tasks") -> str:
    return sign_identity(ALICE, secret=SECRET, method=method, path=path)


def test_a_signed_identity_verifies_for_its_own_request() -> None:
    identity = verify_identity(signed(), secret=SECRET, method="GET", path="/api/v1/tasks")
    assert identity.user_id == "alice"
    assert identity.session_id == "s1"


@pytest.mark.parametrize(
    ("method", "path"),
    [("DELETE", "/api/v1/tasks"), ("GET", "/api/v1/tasks/other")],
)
def test_a_signature_is_bound_to_method_and_path(method: str, path: str) -> None:
    with pytest.raises(InvalidIdentity):
        verify_identity(signed(), secret=SECRET, method=method, path=path)


def test_another_secret_or_a_tampered_payload_is_refused() -> None:
    payload, mac = signed().split(".")
    with pytest.raises(InvalidIdentity):
        verify_identity(signed(), secret=b"x" * 40, method="GET", path="/api/v1/tasks")
    with pytest.raises(InvalidIdentity):
        verify_identity(f"{payload}A.{mac}", secret=SECRET, method="GET", path="/api/v1/tasks")


@pytest.mark.parametrize(
    "header", [None, "", "no-dot", "a.b.c", "é.ü", "\x00.\x00", "x." + "é" * 43]
)
def test_malformed_headers_are_refused_not_crashing(header: str | None) -> None:
    with pytest.raises(InvalidIdentity):
        verify_identity(header, secret=SECRET, method="GET", path="/api/v1/tasks")


def test_a_signature_is_bound_to_the_query_and_the_body() -> None:
    header = sign_identity(
        ALICE, secret=SECRET, method="POST", path="/api/v1/tasks", query=b"a=1", body=b"{}"
    )
    request = {"method": "POST", "path": "/api/v1/tasks"}
    verified = verify_identity(header, secret=SECRET, **request, query=b"a=1", body=b"{}")
    assert verified.user_id == ALICE.user_id
    for query, body in ((b"a=2", b"{}"), (b"a=1", b'{"x":1}'), (b"", b"{}")):
        with pytest.raises(InvalidIdentity):
            verify_identity(header, secret=SECRET, **request, query=query, body=body)


def test_each_purpose_has_its_own_key_and_none_is_the_secret() -> None:
    identity_key = derive_key(SECRET, "internal-identity")
    assert len(identity_key) == 32
    assert len({identity_key, derive_key(SECRET, "csrf"), SECRET}) == 3
    assert derive_key(b"y" * 40, "csrf") != derive_key(SECRET, "csrf")
