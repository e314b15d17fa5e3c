"""Accounts in MongoDB, one document per user, unique on the normalised email."""

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
    password_hash: str

    @classmethod
    def from_document(cls, doc: Document) -> "User":
        return cls(
            id=doc["_id"],
            email=doc["email"],
            name=doc.get("name"),
            created_at=doc["created_at"],
            password_hash=doc["password_hash"],
        )


class UserStore:
    def __init__(self, client: AsyncMongoClient[Document], database: str) -> None:
        self.users: AsyncCollection[Document] = client[database]["users"]

    async def ensure_indexes(self) -> None:
        await self.users.create_index("email", unique=True, name="email_unique")

    async def create(
        self, *, email: str, name: str | None, password_hash: str, now: datetime
    ) -> User:
        doc = {
            "_id": uuid.uuid4().hex,
            "email": normalise_email(email),
            "name": name,
            "password_hash": password_hash,
            "created_at": now,
        }
        try:
            await self.users.insert_one(doc)
        except DuplicateKeyError as exc:
            raise EmailTaken("An account with this email already exists.") from exc
        return User.from_document(doc)

    async def by_email(self, email: str) -> User | None:
        doc = await self.users.find_one({"email": normalise_email(email)})
        return User.from_document(doc) if doc else None

    async def by_id(self, user_id: str) -> User | None:
        doc = await self.users.find_one({"_id": user_id})
        return User.from_document(doc) if doc else None

    async def replace_hash(self, *, user_id: str, password_hash: str) -> None:
        await self.users.update_one({"_id": user_id}, {"$set": {"password_hash": password_hash}})
