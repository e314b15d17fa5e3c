"""Calls straight to a service, signed as the gateway would sign them."""

from collections.abc import Generator

import httpx

from shared.identity import IDENTITY_HEADER, Identity, sign_identity
from tests.integration.harness import System


def signed_headers(
    system: System,
    identity: Identity,
    *,
    method: str,
    path: str,
    query: bytes = b"",
    body: bytes = b"",
) -> dict[str, str]:
    """``X-Taskstream-Identity`` as the gateway would sign it, for calls straight to a service.

    The signature covers the raw query and the body: send exactly these bytes.
    """
    secret = system.env["INTERNAL_SIGNING_SECRET"].encode()
    signed = sign_identity(
        identity, secret=secret, method=method, path=path, query=query, body=body
    )
    return {"X-Taskstream-Identity": signed}


class SignedAs(httpx.Auth):
    """Signs each request as the gateway would, over the exact method, path, query and body."""

    requires_request_body = True

    def __init__(self, system: System, identity: Identity) -> None:
        self.secret = system.env["INTERNAL_SIGNING_SECRET"].encode()
        self.identity = identity

    def auth_flow(self, request: httpx.Request) -> Generator[httpx.Request, httpx.Response, None]:
        request.headers[IDENTITY_HEADER] = sign_identity(
            self.identity,
            secret=self.secret,
            method=request.method,
            path=request.url.path,
            query=request.url.query,
            body=request.content,
        )
        yield request
