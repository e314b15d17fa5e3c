"""What the social sign-in tests share: an auth + gateway pair configured with providers, a
browser that signs in at the real provider's login form, and an issuer the tests control.

The providers ``google`` and ``github`` are two issuers of the stack's real OpenID provider
(mock-oauth2-server, started by ``stack.py up``; ``OIDC_PROVIDER_URL`` says where). ``forge``
is an issuer served by this test process: its token endpoint hands out whatever id_token a
test scripted, which is the only way to put a wrong ``aud``, an expired token or a foreign
signature in front of the callback. It is not a stand-in for the provider under test.
"""

import json
import os
import secrets
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from html.parser import HTMLParser
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urljoin, urlsplit

import httpx
from joserfc.jwk import RSAKey

from deploy.local.services import ServiceProcess
from tests.integration.harness import LOG_DIR, System, free_port
from tests.support.processes import RETIRED_PROCESSES
from tests.support.secrets import remember

CALLBACK = "/api/v1/auth/oidc/{provider}/callback"
RECENT_SIGN_IN_SECONDS = 15


def provider_url() -> str:
    return os.environ.get("OIDC_PROVIDER_URL", "http://127.0.0.1:8070")


@dataclass
class Forge:
    """An issuer whose token endpoint returns the id_token scripted for each code."""

    server: ThreadingHTTPServer
    key: RSAKey = field(default_factory=lambda: RSAKey.generate_key(2048, parameters={"kid": "f1"}))
    tokens: dict[str, str] = field(default_factory=dict)
    token_forms: list[dict[str, list[str]]] = field(default_factory=list)

    @property
    def issuer(self) -> str:
        return f"http://127.0.0.1:{self.server.server_port}/forge"

    def discovery(self) -> dict[str, Any]:
        return {
            "issuer": self.issuer,
            "authorization_endpoint": f"{self.issuer}/authorize",
            "token_endpoint": f"{self.issuer}/token",
            "jwks_uri": f"{self.issuer}/jwks",
            "id_token_signing_alg_values_supported": ["RS256"],
        }

    def answer(self, method: str, path: str, body: bytes) -> tuple[int, dict[str, Any]]:
        if method == "GET" and path == "/forge/.well-known/openid-configuration":
            return 200, self.discovery()
        if method == "GET" and path == "/forge/jwks":
            return 200, {"keys": [self.key.as_dict(private=False)]}
        if method == "POST" and path == "/forge/token":
            form = parse_qs(body.decode())
            self.token_forms.append(form)
            id_token = self.tokens.pop(form.get("code", [""])[0], None)
            if id_token is None:
                return 400, {"error": "invalid_grant"}
            return 200, {"access_token": "forged", "token_type": "Bearer", "id_token": id_token}
        return 404, {"error": "not_found"}


def start_forge() -> Forge:
    forge: Forge

    class Handler(BaseHTTPRequestHandler):
        def _reply(self, method: str) -> None:
            length = int(self.headers.get("content-length") or 0)
            status, document = forge.answer(method, self.path, self.rfile.read(length))
            body = json.dumps(document).encode()
            self.send_response(status)
            self.send_header("content-type", "application/json")
            self.send_header("content-length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def do_GET(self) -> None:
            self._reply("GET")

        def do_POST(self) -> None:
            self._reply("POST")

        def log_message(self, *_: object) -> None:  # quiet: pytest shows stderr on failure
            pass

    forge = Forge(ThreadingHTTPServer(("127.0.0.1", 0), Handler))
    threading.Thread(target=forge.server.serve_forever, daemon=True).start()
    return forge


@dataclass
class OidcSystem:
    """Auth and gateway processes with social sign-in configured; tasks and search shared."""

    gateway: ServiceProcess
    auth: ServiceProcess
    forge: Forge
    mongo_url: str

    @property
    def url(self) -> str:
        return self.gateway.url


def provider_entry(provider_id: str, name: str, issuer: str) -> dict[str, str]:
    return {
        "id": provider_id,
        "name": name,
        "issuer": issuer,
        "client_id": f"taskstream-{provider_id}",
        "client_secret": secrets.token_urlsafe(24),
    }


def stack_providers() -> list[dict[str, str]]:
    """``google`` and ``github``: two issuers of the stack's real provider, as ``make run`` has."""
    base = provider_url()
    return [
        provider_entry("google", "Google", f"{base}/google"),
        provider_entry("github", "GitHub", f"{base}/github"),
    ]


def providers_setting(forge: Forge) -> str:
    return json.dumps([*stack_providers(), provider_entry("forge", "Forge", forge.issuer)])


@contextmanager
def social_sign_in_pair(
    system: System, *, providers: str, auth_settings: dict[str, str] | None = None
) -> Iterator[tuple[ServiceProcess, ServiceProcess]]:
    """An auth with ``AUTH_OIDC_PROVIDERS`` and a gateway in front of it: (auth, gateway)."""
    gateway_port = free_port()
    auth_env = {
        **system.env,
        "AUTH_OIDC_PROVIDERS": providers,
        "AUTH_PUBLIC_URL": f"http://127.0.0.1:{gateway_port}",
        **(auth_settings or {}),
    }
    auth = ServiceProcess("auth", free_port(), auth_env, LOG_DIR)
    gateway_env = {
        **system.env,
        **system.gateway_env(),
        "GATEWAY_AUTH_URLS": auth.url,
        # Not the default 8090: other test runs on this machine have gateways too.
        "GATEWAY_OPS_PORT": str(free_port()),
    }
    gateway = ServiceProcess("gateway", gateway_port, gateway_env, LOG_DIR)
    try:
        for proc in (auth, gateway):
            proc.start()
            proc.wait_ready()
        yield auth, gateway
    finally:
        for proc in (gateway, auth):
            proc.stop()
            RETIRED_PROCESSES.append(proc)  # the end-of-session log check reads them too


def start_oidc_system(system: System) -> Iterator[OidcSystem]:
    forge = start_forge()
    auth_settings = {
        # Every unknown kid refetches at once, so the rotation test needs no waiting.
        "AUTH_OIDC_JWKS_MIN_REFETCH_SECONDS": "0",
        # Short enough for one test to outwait, long enough for every flow on a busy machine.
        "AUTH_RECENT_SIGN_IN_SECONDS": str(RECENT_SIGN_IN_SECONDS),
    }
    try:
        with social_sign_in_pair(
            system, providers=providers_setting(forge), auth_settings=auth_settings
        ) as (auth, gateway):
            yield OidcSystem(gateway, auth, forge, system.env["MONGODB_URL"])
    finally:
        forge.server.shutdown()
        forge.server.server_close()


class LoginForm(HTMLParser):
    """The first form of a page: where it posts and the fields it holds."""

    def __init__(self) -> None:
        super().__init__()
        self.action: str | None = None
        self.fields: dict[str, str] = {}
        self.in_form = False

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        named = dict(attrs)
        if tag == "form" and self.action is None:
            self.in_form, self.action = True, named.get("action") or ""
        elif self.in_form and tag in ("input", "textarea", "select") and named.get("name"):
            self.fields[str(named["name"])] = named.get("value") or ""

    def handle_endtag(self, tag: str) -> None:
        if tag == "form":
            self.in_form = False


def query_of(url: str | httpx.URL) -> dict[str, str]:
    return {name: values[0] for name, values in parse_qs(urlsplit(str(url)).query).items()}


class Browser:
    """One browser: its own cookie jar, following no redirect by itself."""

    def __init__(self, oidc: OidcSystem) -> None:
        self.oidc = oidc
        self.http = httpx.AsyncClient(timeout=30, follow_redirects=False)

    async def aclose(self) -> None:
        await self.http.aclose()

    async def begin(self, provider: str, return_to: str | None = None) -> httpx.URL:
        """GET authorize; the provider URL it redirects to."""
        params = {"return_to": return_to} if return_to is not None else {}
        url = f"{self.oidc.url}/api/v1/auth/oidc/{provider}/authorize"
        response = await self.http.get(url, params=params)
        assert response.status_code == 302, response.text
        remember(*query_of(response.headers["location"]).values(), *response.cookies.values())
        return httpx.URL(response.headers["location"])

    async def sign_in_at_provider(
        self, authorize: httpx.URL, *, subject: str, **claims: Any
    ) -> str:
        """Fill in the provider's login form like a person; the callback URL it sends us to."""
        page = await self.http.get(authorize)
        assert page.status_code == 200, page.text
        form = LoginForm()
        form.feed(page.text)
        assert form.action is not None, page.text[:500]
        assert "username" in form.fields, page.text[:500]
        fields = {**form.fields, "username": subject, "claims": json.dumps(claims)}
        target = urljoin(str(authorize), form.action) if form.action else str(authorize)
        answer = await self.http.post(target, data=fields)
        assert answer.status_code == 302, answer.text[:500]
        callback = answer.headers["location"]
        remember(*query_of(callback).values())
        return str(callback)

    async def land(self, callback_url: str) -> httpx.Response:
        """Follow the provider's redirect back to the callback; the gateway's answer."""
        response = await self.http.get(callback_url)
        remember(*response.cookies.values())
        return response

    async def sign_in(
        self, provider: str, *, subject: str, return_to: str | None = None, **claims: Any
    ) -> httpx.Response:
        authorize = await self.begin(provider, return_to)
        callback = await self.sign_in_at_provider(authorize, subject=subject, **claims)
        return await self.land(callback)

    async def access_token(self) -> str:
        """Trade the refresh cookie for an access token, as the web app does on load."""
        csrf = self.http.cookies.get("csrf_token") or ""
        response = await self.http.post(
            f"{self.oidc.url}/api/v1/auth/refresh", headers={"X-CSRF-Token": csrf}
        )
        assert response.status_code == 200, response.text
        token: str = response.json()["access_token"]
        remember(token, *response.cookies.values())
        return token

    def forged_callback(self, provider_query: dict[str, str], code: str) -> str:
        state = provider_query["state"]
        path = CALLBACK.format(provider="forge")
        return f"{self.oidc.url}{path}?{httpx.QueryParams(code=code, state=state)}"


TokenMaker = Callable[[dict[str, str]], str]
