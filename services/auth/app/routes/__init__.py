"""HTTP routes of the auth service."""

from fastapi import APIRouter

from services.auth.app.routes import account, api_keys, jwks, oauth, oidc, sessions, sign_in_methods

ROUTERS: list[APIRouter] = [
    account.router,
    oauth.router,
    sessions.router,
    sessions.internal_router,
    api_keys.router,
    api_keys.internal_router,
    jwks.router,
    oidc.router,
    sign_in_methods.router,
]
