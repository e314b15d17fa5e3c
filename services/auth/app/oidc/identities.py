"""Provider identities in MongoDB: which (provider, subject) signs in as which user.

A unique index on (provider, subject) makes one provider account belong to at most one user,
whatever races between replicas. FerretDB (with our pushdown patch) serves the equality lookup
from that index; the user's own list filters by ``user_id``.
"""

import uuid
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from pymongo import ASCENDING, AsyncMongoClient
from pymongo.asynchronous.collection import AsyncCollection
from pymongo.errors import DuplicateKeyError

Document = dict[str, Any]


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

    @classmethod
    def from_document(cls, doc: Document) -> "Identity":
        return cls(
            id=doc["_id"],
            user_id=doc["user_id"],
            provider=doc["provider"],
            subject=doc["subject"],
            email=doc.get("email"),
            created_at=doc["created_at"],
        )


class IdentityStore:
    def __init__(self, client: AsyncMongoClient[Document], database: str) -> None:
        self.identities: AsyncCollection[Document] = client[database]["identities"]

    async def ensure_indexes(self) -> None:
        await self.identities.create_index(
            [("provider", ASCENDING), ("subject", ASCENDING)],
            name="provider_subject",
            unique=True,
        )
        await self.identities.create_index("user_id", name="user_id")

    async def create(
        self, *, user_id: str, provider: str, subject: str, email: str | None, now: datetime
    ) -> Identity:
        doc: Document = {
            "_id": uuid.uuid4().hex,
            "user_id": user_id,
            "provider": provider,
            "subject": subject,
            "email": email,
            "created_at": now,
        }
        try:
            await self.identities.insert_one(doc)
        except DuplicateKeyError as exc:
            raise IdentityTaken from exc
        return Identity.from_document(doc)

    async def find(self, *, provider: str, subject: str) -> Identity | None:
        doc = await self.identities.find_one({"provider": provider, "subject": subject})
        return Identity.from_document(doc) if doc else None

    async def list(self, *, user_id: str) -> list[Identity]:
        cursor = self.identities.find({"user_id": user_id}).sort("created_at", ASCENDING)
        return [Identity.from_document(doc) async for doc in cursor]

    async def delete(self, *, identity_id: str, user_id: str) -> bool:
        deleted = await self.identities.delete_one({"_id": identity_id, "user_id": user_id})
        return deleted.deleted_count == 1
