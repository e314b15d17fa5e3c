"""API keys: the ``ApiKey`` record and what the domain needs from its storage.

Only the SHA-256 of a key is stored, next to its visible prefix, so resolving a key (the
gateway's hot path) is a lookup of that hash. ``mongo/api_keys.py`` is the adapter; the unit
tests use an in-memory fake.
"""

import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Literal, Protocol, get_args

Scope = Literal["tasks:read", "tasks:write", "search:read"]
SCOPES: frozenset[str] = frozenset(get_args(Scope))
MAX_LIFETIME = timedelta(days=365)


@dataclass(frozen=True)
class ApiKey:
    id: str
    user_id: str
    name: str
    prefix: str
    scopes: tuple[str, ...]
    created_at: datetime
    expires_at: datetime

    @classmethod
    def new(
        cls,
        *,
        user_id: str,
        name: str,
        prefix: str,
        scopes: list[str],
        now: datetime,
        expires_in_days: int,
    ) -> "ApiKey":
        """A key with its scopes deduplicated and a lifetime of at most ``MAX_LIFETIME``."""
        now = now.replace(microsecond=now.microsecond // 1000 * 1000)  # what BSON keeps
        return cls(
            id=uuid.uuid4().hex,
            user_id=user_id,
            name=name,
            prefix=prefix,
            scopes=tuple(sorted(set(scopes))),
            created_at=now,
            expires_at=now + min(timedelta(days=expires_in_days), MAX_LIFETIME),
        )


class ApiKeyStore(Protocol):
    async def ensure_indexes(self) -> None: ...

    async def create(self, key: ApiKey, *, key_hash: str) -> None: ...

    async def count(self, *, user_id: str) -> int:
        """The user's keys, expired ones not yet deleted included."""

    async def list(self, *, user_id: str) -> list[ApiKey]:
        """The user's keys, newest first."""

    async def owned(self, *, key_id: str, user_id: str) -> bool: ...

    async def delete(self, *, key_id: str, user_id: str) -> None: ...

    async def by_hash(self, *, key_hash: str) -> ApiKey | None:
        """The key with this hash, expired or not."""

    async def delete_expired(self, *, now: datetime) -> int: ...
