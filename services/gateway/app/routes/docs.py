"""The merged OpenAPI document and Swagger UI, served with assets from a Python package."""

import base64
import hashlib
import re

import orjson
from fastapi import APIRouter, Request
from fastapi.openapi.docs import get_swagger_ui_html
from fastapi.responses import HTMLResponse, Response

from services.gateway.app.deps import OpenApi

ASSETS = "/docs/assets"
OPENAPI_URL = "/api/v1/openapi.json"


def swagger_page() -> tuple[bytes, bytes]:
    """Swagger UI's page and a CSP that lets exactly its one inline script run."""
    page = get_swagger_ui_html(
        openapi_url=OPENAPI_URL,
        title="Taskstream API",
        swagger_js_url=f"{ASSETS}/swagger-ui-bundle.js",
        swagger_css_url=f"{ASSETS}/swagger-ui.css",
        swagger_favicon_url=f"{ASSETS}/favicon-32x32.png",
        swagger_ui_parameters={"persistAuthorization": True},
    ).body
    inline = re.findall(rb"<script>(.*?)</script>", bytes(page), re.DOTALL)
    hashes = " ".join(
        f"'sha256-{base64.b64encode(hashlib.sha256(s).digest()).decode()}'" for s in inline
    )
    csp = (
        f"default-src 'none'; script-src 'self' {hashes}; style-src 'self' 'unsafe-inline'; "
        "img-src 'self' data:; connect-src 'self'; frame-ancestors 'none'; base-uri 'none'; "
        "form-action 'self'"
    )
    return bytes(page), csp.encode()


def docs_router() -> APIRouter:
    router = APIRouter(include_in_schema=False)
    page, csp = swagger_page()

    @router.get(OPENAPI_URL)
    async def openapi(cache: OpenApi) -> Response:
        return Response(orjson.dumps(await cache.document()), media_type="application/json")

    @router.get("/docs")
    async def docs(request: Request) -> HTMLResponse:
        request.state.csp = csp
        return HTMLResponse(page)

    return router
