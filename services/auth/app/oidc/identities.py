"""Provider identities: which (provider, subject) signs in as which user.

One provider account belongs to at most one user, whatever races between replicas; the
adapter (``mongo/identities.py``) keeps that with a unique index.
"""

from dataclasses import dataclass
from datetime import datetime
from typing import Protocol


class IdentityTaken(Exception):
    """This provider account is already linked to a user."""


@dataclass(frozen=True)
class Identity:
    id: str
    user_id: str
    provider: str
    subject: str
    email: str | None
    created_at: datetime


class IdentityStore(Protocol):
    async def ensure_indexes(self) -> None: ...

    async def create(
        self, *, user_id: str, provider: str, subject: str, email: str | None, now: datetime
    ) -> Identity:
        """Link a provider account to ``user_id``; ``IdentityTaken`` if it is linked already."""

    async def find(self, *, provider: str, subject: str) -> Identity | None: ...

    async def list(self, *, user_id: str) -> list[Identity]:
        """The user's identities, oldest first."""

    async def delete(self, *, identity_id: str, user_id: str) -> bool:
        """True if the user had that identity and it is gone now."""
