"""Typed FastAPI dependencies of the auth service."""

from typing import Annotated

from fastapi import Depends, Request

from services.auth.app.config import Settings
from services.auth.app.errors import ApiKeyNotAllowed, NotTheGateway
from services.auth.app.oidc.service import SocialSignIn
from services.auth.app.service import AuthService
from shared.identity import CurrentIdentity, GatewayVouched, Identity, client_address


def get_service(request: Request) -> AuthService:
    service: AuthService = request.app.state.auth
    service.require_ready()
    return service


def get_social(request: Request) -> SocialSignIn:
    social: SocialSignIn = request.app.state.social
    return social


def get_settings(request: Request) -> Settings:
    settings: Settings = request.app.state.settings
    return settings


def get_client_address(request: Request, identity: GatewayVouched) -> str:
    return client_address(request, identity)


def require_gateway(identity: CurrentIdentity) -> Identity:
    if identity.via != "service" or identity.user_id != "gateway":
        raise NotTheGateway("Only the gateway may call this route.")
    return identity


def require_session(identity: CurrentIdentity) -> Identity:
    """A signed-in user: an API key cannot manage keys, sessions or how the account signs in."""
    if identity.via == "api_key":
        raise ApiKeyNotAllowed("API keys cannot manage the account; sign in instead.")
    return identity


Service = Annotated[AuthService, Depends(get_service)]
Social = Annotated[SocialSignIn, Depends(get_social)]
AppSettings = Annotated[Settings, Depends(get_settings)]
ClientAddress = Annotated[str, Depends(get_client_address)]
GatewayCaller = Annotated[Identity, Depends(require_gateway)]
SessionIdentity = Annotated[Identity, Depends(require_session)]

__all__ = [
    "AppSettings",
    "ClientAddress",
    "CurrentIdentity",
    "GatewayCaller",
    "Service",
    "SessionIdentity",
    "Social",
]
