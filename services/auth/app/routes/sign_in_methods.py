"""How an account signs in: its linked provider identities and its password."""

from typing import Annotated

from fastapi import APIRouter, Path, Response

from services.auth.app.deps import Service, SessionIdentity, Social
from services.auth.app.oidc.identities import Identity
from services.auth.app.schemas import IdentityList, IdentityOut, PasswordChange
from shared.problems import problem_responses

router = APIRouter(prefix="/api/v1/auth", tags=["social sign-in"])
IdentityId = Annotated[str, Path(min_length=1, max_length=64)]


def identity_out(identity: Identity) -> IdentityOut:
    return IdentityOut(
        id=identity.id,
        provider=identity.provider,
        subject=identity.subject,
        email=identity.email,
        created_at=identity.created_at,
    )


@router.get("/identities", response_model=IdentityList, responses=problem_responses(401, 403))
async def list_identities(identity: SessionIdentity, _: Service, social: Social) -> IdentityList:
    linked = await social.list_identities(user_id=identity.user_id)
    return IdentityList(items=[identity_out(item) for item in linked])


@router.delete(
    "/identities/{identity_id}", status_code=204, responses=problem_responses(401, 403, 404, 409)
)
async def unlink_identity(
    identity_id: IdentityId, identity: SessionIdentity, _: Service, social: Social
) -> Response:
    """Refused (409) when it is the account's last way to sign in."""
    await social.unlink(user_id=identity.user_id, identity_id=identity_id)
    return Response(status_code=204)


@router.post(
    "/password", status_code=204, responses=problem_responses(401, 403, 422), tags=["auth"]
)
async def set_password(
    body: PasswordChange, identity: SessionIdentity, service: Service
) -> Response:
    """Set a first password (provider-made accounts, recent sign-in) or change it (with the
    current one); every other session of the account ends."""
    await service.set_password(
        identity=identity,
        new_password=body.new_password,
        current_password=body.current_password,
    )
    return Response(status_code=204)
