"""``GET /api/v1/events/stream``: the caller's own task events, as Server-Sent Events."""

import asyncio
from typing import Annotated

from fastapi import APIRouter, Header
from starlette.responses import StreamingResponse

from services.tasks.app.access import access_check
from services.tasks.app.deps import AppSettings, CurrentIdentity, Live, RedisClient
from services.tasks.app.errors import LiveEventsUnavailable
from services.tasks.app.live import StreamTiming, event_stream
from shared.problems import problem_responses

router = APIRouter(tags=["events"])
# A replica that just started reaches the topic within a moment; Kafka down takes longer.
READY_WAIT_SECONDS = 2.0
SSE_DOC = (
    "Server-Sent Events: `event:` the CloudEvents type, `id:` a resume point (send it back as "
    "`Last-Event-ID`), `data:` the task at its version. `event: reset` means the resume point "
    "is no longer held: refetch. A comment line every 15 s at least keeps proxies from closing "
    "it; the stream ends when the access token expires or is revoked (reconnect with a fresh one)."
)

# One event of the stream (OpenAPI 3.1 reads an event stream's `schema` as each event's).
SSE_EVENT = {
    "type": "object",
    "required": ["event", "data"],
    "properties": {
        "event": {"type": "string", "examples": ["taskstream.task.updated", "reset"]},
        "id": {"type": "string", "description": "Resume point: send it as `Last-Event-ID`."},
        "data": {
            "type": "string",
            "contentMediaType": "application/json",
            "description": 'The task at the event\'s version; for a reset, `{"reason": ...}`.',
        },
        "retry": {"type": "integer"},
    },
}


@router.get(
    "/api/v1/events/stream",
    response_class=StreamingResponse,
    responses={
        200: {"content": {"text/event-stream": {"schema": SSE_EVENT}}},
        **problem_responses(401, 503),
    },
    summary="Your task events as they happen (SSE)",
    description=SSE_DOC,
)
async def stream_events(
    identity: CurrentIdentity,
    live: Live,
    redis: RedisClient,
    settings: AppSettings,
    last_event_id: Annotated[str | None, Header(alias="Last-Event-ID", max_length=200)] = None,
) -> StreamingResponse:
    try:
        await asyncio.wait_for(live.ready.wait(), READY_WAIT_SECONDS)
    except TimeoutError:
        raise LiveEventsUnavailable("Live events are starting; try again shortly.") from None
    body = event_stream(
        live,
        owner_id=identity.user_id,
        last_event_id=last_event_id,
        still_allowed=access_check(redis, identity),
        timing=StreamTiming(
            heartbeat_seconds=settings.live_heartbeat_seconds,
            check_seconds=settings.live_check_seconds,
        ),
    )
    headers = {"Cache-Control": "no-store", "X-Accel-Buffering": "no"}
    return StreamingResponse(body, media_type="text/event-stream", headers=headers)
