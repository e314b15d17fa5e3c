"""Accounts in MongoDB: one document per user, and one per email claiming it.

Every lookup on the hot path is by ``_id``: FerretDB v1 (SQLite) answers other filters by
scanning the whole collection, so the email's uniqueness and its lookup live in
``user_emails`` (``_id`` = normalised email). The user is written first and the email claimed
second; a lost race deletes the user again, and a crash in between leaves only an unreachable
user document, never an email that nobody can register or log in with.
"""

import uuid
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from pymongo import AsyncMongoClient
from pymongo.asynchronous.collection import AsyncCollection
from pymongo.errors import DuplicateKeyError

from services.auth.app.errors import EmailTaken

Document = dict[str, Any]


def normalise_email(email: str) -> str:
    return email.strip().lower()


@dataclass(frozen=True)
class User:
    id: str
    email: str
    name: str | None
    created_at: datetime
    password_hash: str | None  # None: the account signs in only through a provider

    @classmethod
    def from_document(cls, doc: Document) -> "User":
        return cls(
            id=doc["_id"],
            email=doc["email"],
            name=doc.get("name"),
            created_at=doc["created_at"],
            password_hash=doc.get("password_hash"),
        )


class UserStore:
    def __init__(self, client: AsyncMongoClient[Document], database: str) -> None:
        self.users: AsyncCollection[Document] = client[database]["users"]
        self.emails: AsyncCollection[Document] = client[database]["user_emails"]

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
        return User.from_document(doc)

    async def by_email(self, email: str) -> User | None:
        claim = await self.emails.find_one({"_id": normalise_email(email)})
        return await self.by_id(claim["user_id"]) if claim else None

    async def by_id(self, user_id: str) -> User | None:
        doc = await self.users.find_one({"_id": user_id})
        return User.from_document(doc) if doc else None

    async def replace_hash(self, *, user_id: str, password_hash: str) -> None:
        await self.users.update_one({"_id": user_id}, {"$set": {"password_hash": password_hash}})
