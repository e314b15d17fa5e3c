"""``IdentityStore`` on MongoDB: a unique index on (provider, subject).

FerretDB (with our pushdown patch) serves the equality lookup from the key index as well;
the user's own list filters by ``user_id``.
"""

import uuid
from datetime import datetime

from pymongo import ASCENDING
from pymongo.asynchronous.collection import AsyncCollection
from pymongo.asynchronous.database import AsyncDatabase
from pymongo.errors import DuplicateKeyError

from services.auth.app.mongo.capabilities import Document
from services.auth.app.oidc.identities import Identity, IdentityTaken


def identity_of(doc: Document) -> Identity:
    return Identity(
        id=doc["_id"],
        user_id=doc["user_id"],
        provider=doc["provider"],
        subject=doc["subject"],
        email=doc.get("email"),
        created_at=doc["created_at"],
    )


class MongoIdentityStore:
    def __init__(self, database: AsyncDatabase[Document]) -> None:
        self.identities: AsyncCollection[Document] = database["identities"]

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
        return identity_of(doc)

    async def find(self, *, provider: str, subject: str) -> Identity | None:
        doc = await self.identities.find_one({"provider": provider, "subject": subject})
        return identity_of(doc) if doc else None

    async def list(self, *, user_id: str) -> list[Identity]:
        cursor = self.identities.find({"user_id": user_id}).sort("created_at", ASCENDING)
        return [identity_of(doc) async for doc in cursor]

    async def delete(self, *, identity_id: str, user_id: str) -> bool:
        deleted = await self.identities.delete_one({"_id": identity_id, "user_id": user_id})
        return deleted.deleted_count == 1
