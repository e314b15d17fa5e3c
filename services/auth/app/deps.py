"""Typed FastAPI dependencies of the auth service."""

from typing import Annotated

from fastapi import Depends, Request

from services.auth.app.config import Settings
from services.auth.app.errors import NotTheGateway, NotWithApiKey
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
    """A user signed in with a session: how the account signs in is not an API key's business."""
    if identity.via != "jwt":
        raise NotWithApiKey("Sign in to change how this account signs in.")
    return identity


Service = Annotated[AuthService, Depends(get_service)]
Social = Annotated[SocialSignIn, Depends(get_social)]
SignedIn = Annotated[Identity, Depends(require_session)]
AppSettings = Annotated[Settings, Depends(get_settings)]
ClientAddress = Annotated[str, Depends(get_client_address)]
GatewayCaller = Annotated[Identity, Depends(require_gateway)]

__all__ = [
    "AppSettings",
    "ClientAddress",
    "CurrentIdentity",
    "GatewayCaller",
    "Service",
    "SignedIn",
    "Social",
]
