"""``UserStore`` on MongoDB: one document per user, and one per email claiming it.

The email's uniqueness and its lookup live in ``user_emails`` (``_id`` = normalised email), so
every lookup is by ``_id``, the one filter FerretDB v1 always served from an index; MongoDB
keeps the same layout, so one schema serves both (docs/decisions/0830-auth-stores.md). The
user is written first and the email claimed second: a lost race deletes the user again, and a
crash in between leaves only an unreachable user document, never an email that nobody can
register or log in with.
"""

import uuid
from datetime import datetime

from pymongo.asynchronous.collection import AsyncCollection
from pymongo.asynchronous.database import AsyncDatabase
from pymongo.errors import DuplicateKeyError

from services.auth.app.errors import EmailTaken
from services.auth.app.mongo.capabilities import Document
from services.auth.app.users import User, normalise_email


def user_of(doc: Document) -> User:
    return User(
        id=doc["_id"],
        email=doc["email"],
        name=doc.get("name"),
        created_at=doc["created_at"],
        password_hash=doc.get("password_hash"),
    )


class MongoUserStore:
    def __init__(self, database: AsyncDatabase[Document]) -> None:
        self.users: AsyncCollection[Document] = database["users"]
        self.emails: AsyncCollection[Document] = database["user_emails"]

    async def create(
        self,
        *,
        email: str,
        name: str | None,
        password_hash: str | None,
        now: datetime,
        user_id: str | None = None,
    ) -> User:
        doc = {
            "_id": user_id or uuid.uuid4().hex,
            "email": normalise_email(email),
            "name": name,
            "password_hash": password_hash,
            "created_at": now,
        }
        await self.users.insert_one(doc)
        try:
            await self.emails.insert_one({"_id": doc["email"], "user_id": doc["_id"]})
        except DuplicateKeyError as exc:
            await self.users.delete_one({"_id": doc["_id"]})
            raise EmailTaken("An account with this email already exists.") from exc
        return user_of(doc)

    async def by_email(self, email: str) -> User | None:
        claim = await self.emails.find_one({"_id": normalise_email(email)})
        return await self.by_id(claim["user_id"]) if claim else None

    async def by_id(self, user_id: str) -> User | None:
        doc = await self.users.find_one({"_id": user_id})
        return user_of(doc) if doc else None

    async def replace_hash(self, *, user_id: str, password_hash: str) -> None:
        await self.users.update_one({"_id": user_id}, {"$set": {"password_hash": password_hash}})
