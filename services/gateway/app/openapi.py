"""One OpenAPI 3.1 document for the public API, merged from the services' own documents.

Only public paths are kept (``/api/...`` and ``/.well-known/...``; never ``/internal``).
Every operation also documents the answers the gateway itself may give (401, 403 for an API
key without the scope, 408, 413, 429, 502-504) so that a schema-driven test through the gateway
finds them all declared.
"""

import copy
import logging
import time
from collections.abc import Awaitable, Callable, Mapping
from typing import Any

import orjson

from services.gateway.app.routing import is_public
from shared.problems import problem_responses

log = logging.getLogger("taskstream.gateway.openapi")
Document = dict[str, Any]
PUBLIC_PREFIXES = ("/api/", "/.well-known/", "/ofrep/")
METHODS = frozenset({"get", "put", "post", "delete", "options", "head", "patch", "trace"})
TOKEN_URL = "/api/v1/auth/token"  # noqa: S105 (a URL, not a secret)
SECURITY_SCHEMES = {
    "OAuth2PasswordBearer": {
        "type": "oauth2",
        "flows": {"password": {"tokenUrl": TOKEN_URL, "scopes": {}}},
    },
    "APIKeyHeader": {"type": "apiKey", "in": "header", "name": "X-API-Key"},
}
SECURED: list[dict[str, list[str]]] = [{"OAuth2PasswordBearer": []}, {"APIKeyHeader": []}]
GOOD_FOR_SECONDS = 30.0
PARTIAL_GOOD_FOR_SECONDS = 5.0


def merge_documents(documents: Mapping[str, Document], *, title: str, version: str) -> Document:
    schemas: dict[str, Any] = {}
    paths: dict[str, Any] = {}
    for service, original in documents.items():
        document = _rename_colliding_schemas(service, original, schemas)
        schemas.update(document.get("components", {}).get("schemas", {}))
        for path, item in document.get("paths", {}).items():
            if path.startswith(PUBLIC_PREFIXES):
                paths[path] = _with_gateway_answers(path, item)
    return {
        "openapi": "3.1.0",
        "info": {"title": title, "version": version},
        "paths": dict(sorted(paths.items())),
        "components": {"schemas": schemas, "securitySchemes": SECURITY_SCHEMES},
        "security": SECURED,
    }


def _rename_colliding_schemas(
    service: str, document: Document, taken: Mapping[str, Any]
) -> Document:
    """Prefix a schema name with the service when another service defined it differently."""
    own = document.get("components", {}).get("schemas", {})
    clashes = [name for name, schema in own.items() if name in taken and taken[name] != schema]
    if not clashes:
        return document
    text = orjson.dumps(document).decode()
    for name in clashes:
        text = text.replace(
            f'"#/components/schemas/{name}"', f'"#/components/schemas/{service}_{name}"'
        )
    renamed: Document = orjson.loads(text)
    schemas = renamed["components"]["schemas"]
    for name in clashes:
        schemas[f"{service}_{name}"] = schemas.pop(name)
    return renamed


def _with_gateway_answers(path: str, item: Mapping[str, Any]) -> dict[str, Any]:
    public = is_public(path)
    result = copy.deepcopy(dict(item))
    for method, operation in result.items():
        if method not in METHODS:
            continue
        statuses = [429, 502, 503, 504]
        if not public:
            statuses += [401, 403]
        if "requestBody" in operation:
            statuses += [408, 413]
        responses = operation.setdefault("responses", {})
        for status, response in problem_responses(*statuses).items():
            responses.setdefault(str(status), response)
        if public:
            operation["security"] = []
    return result


class OpenApiCache:
    """The merged document, rebuilt at most every 30 s (5 s if a service was missing)."""

    def __init__(self, fetch: Callable[[str], Awaitable[bytes]], services: list[str]) -> None:
        self._fetch = fetch
        self._services = services
        self._document: Document | None = None
        self._good_until = 0.0

    async def document(self) -> Document:
        if self._document is None or time.monotonic() >= self._good_until:
            documents = await self._collect()
            self._document = merge_documents(documents, title="Taskstream API", version="1.0.0")
            complete = len(documents) == len(self._services)
            ttl = GOOD_FOR_SECONDS if complete else PARTIAL_GOOD_FOR_SECONDS
            self._good_until = time.monotonic() + ttl
        return self._document

    async def _collect(self) -> dict[str, Document]:
        documents: dict[str, Document] = {}
        for service in self._services:
            try:
                documents[service] = orjson.loads(await self._fetch(service))
            except Exception as exc:  # a missing service leaves its paths out for a while
                log.warning("no OpenAPI document from %s: %s", service, type(exc).__name__)
        return documents
