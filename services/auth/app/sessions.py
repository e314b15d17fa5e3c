"""Sessions (refresh-token families) and what the domain needs from their storage.

A session holds one current refresh token at a time; refreshing rotates it, and the
rotated-away token is remembered until the session would have expired, which is how a replayed
old token is recognised as theft (``AuthService.refresh``). Stores keep only SHA-256 hashes of
refresh tokens. ``mongo/sessions.py`` is the adapter; the unit tests use an in-memory fake.
"""

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Protocol

USER_AGENT_MAX_LENGTH = 256
# Revoked sessions stay a little while so a replayed token still finds its (dead) family.
REVOKED_RETENTION = timedelta(days=1)


def stored_user_agent(user_agent: str | None) -> str | None:
    return (user_agent or "")[:USER_AGENT_MAX_LENGTH] or None


@dataclass(frozen=True)
class Session:
    id: str
    user_id: str
    created_at: datetime
    last_used_at: datetime
    user_agent: str | None
    active: bool
    expires_at: datetime

    def usable(self, now: datetime) -> bool:
        return self.active and self.expires_at > now

    def vouches_for(self, *, user_id: str, issued_at: int, now: datetime) -> bool:
        """Whether an access token of this session, for ``user_id``, may still be served.

        Logout, logout-all and refresh-token theft all revoke the session here, so this is the
        gateway's truth while Redis (where those revocations are normally read) is down. A
        token cannot have been issued before its session began: one that claims so is not ours.
        """
        began = int(self.created_at.timestamp())
        return self.usable(now) and self.user_id == user_id and issued_at >= began


@dataclass(frozen=True)
class UsedToken:
    session_id: str
    rotated_at: datetime


class SessionStore(Protocol):
    async def ensure_indexes(self) -> None: ...

    async def create(
        self, *, user_id: str, token_hash: str, user_agent: str | None, now: datetime, ttl: int
    ) -> Session:
        """A new active session whose current refresh token is ``token_hash``."""

    async def rotate(
        self, *, token_hash: str, new_hash: str, now: datetime, ttl: int
    ) -> Session | None:
        """Swap the current token for ``new_hash`` and extend the session by ``ttl``; None if
        ``token_hash`` is not current or its session is not usable. Of two rotations of one
        token, whichever replicas run them, exactly one succeeds; the token it replaced is
        remembered as used (``find_used``) until the session would have expired."""

    async def get(self, session_id: str) -> Session | None: ...

    async def find_used(self, token_hash: str) -> UsedToken | None: ...

    async def active_ids(self, *, user_id: str) -> list[str]: ...

    async def revoke(self, *, session_ids: list[str], now: datetime) -> None: ...

    async def list_active(self, *, user_id: str, now: datetime) -> list[Session]:
        """Usable sessions of the user, most recently used first."""

    async def delete_expired(self, *, now: datetime) -> int:
        """Forget expired sessions and tokens, and sessions revoked ``REVOKED_RETENTION``
        ago; the number of records deleted."""
