"""The caller's sessions: list them, end one; and the gateway's internal session check."""

from typing import Annotated

from fastapi import APIRouter, Path, Response

from services.auth.app.deps import GatewayCaller, Service, SessionIdentity
from services.auth.app.routes.api_keys import api_key_out
from services.auth.app.schemas import (
    SessionCheckRequest,
    SessionCheckResult,
    SessionList,
    SessionOut,
)
from shared.problems import problem_responses

router = APIRouter(prefix="/api/v1/auth/sessions", tags=["sessions"])
internal_router = APIRouter(prefix="/internal/v1/sessions", include_in_schema=False)
SessionId = Annotated[str, Path(min_length=1, max_length=64)]


@router.get("", response_model=SessionList, responses=problem_responses(401, 403))
async def list_sessions(identity: SessionIdentity, service: Service) -> SessionList:
    """The sessions, and the API keys that keep working whatever happens to them."""
    sessions = await service.list_sessions(user_id=identity.user_id)
    keys = await service.list_api_keys(user_id=identity.user_id)
    items = [
        SessionOut(
            id=s.id,
            created_at=s.created_at,
            last_used_at=s.last_used_at,
            user_agent=s.user_agent,
            current=s.id == identity.session_id,
        )
        for s in sessions
    ]
    return SessionList(items=items, api_keys=[api_key_out(key) for key in keys])


@router.delete("/{session_id}", status_code=204, responses=problem_responses(401, 403, 404, 422))
async def delete_session(
    session_id: SessionId, identity: SessionIdentity, service: Service
) -> Response:
    await service.delete_session(user_id=identity.user_id, session_id=session_id)
    return Response(status_code=204)


@internal_router.post("/check", response_model=SessionCheckResult)
async def check_session(
    body: SessionCheckRequest, _: GatewayCaller, service: Service
) -> SessionCheckResult:
    active = await service.session_active(
        session_id=body.session_id, user_id=body.user_id, issued_at=body.issued_at
    )
    return SessionCheckResult(active=active)
