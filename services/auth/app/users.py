"""Accounts: the ``User`` record and what the domain needs from their storage.

``mongo/users.py`` is the adapter; the unit tests use an in-memory fake.
"""

from dataclasses import dataclass
from datetime import datetime
from typing import Protocol


def normalise_email(email: str) -> str:
    return email.strip().lower()


@dataclass(frozen=True)
class User:
    id: str
    email: str
    name: str | None
    created_at: datetime
    password_hash: str | None  # None: the account signs in only through a provider


class UserStore(Protocol):
    async def create(
        self,
        *,
        email: str,
        name: str | None,
        password_hash: str | None,
        now: datetime,
        user_id: str | None = None,
    ) -> User:
        """A new account under the normalised ``email``; ``EmailTaken`` if one holds it
        already, whatever races between replicas. A new id unless ``user_id`` is given."""

    async def by_email(self, email: str) -> User | None: ...

    async def by_id(self, user_id: str) -> User | None: ...

    async def replace_hash(self, *, user_id: str, password_hash: str) -> None: ...
