"""Sessions (refresh-token families) in MongoDB.

A session stores only the SHA-256 of its current refresh token. Rotation is one atomic
``find_one_and_update`` that matches that hash, so of two concurrent refreshes with the same
token exactly one wins. Each rotated-away hash is kept in ``used_refresh_tokens`` until the
session would have expired, which is how a replayed old token is recognised as theft.
FerretDB has no TTL indexes, so ``delete_expired`` runs periodically instead.
"""

import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from pymongo import AsyncMongoClient, ReturnDocument
from pymongo.asynchronous.collection import AsyncCollection

Document = dict[str, Any]
USER_AGENT_MAX_LENGTH = 256
# Revoked sessions stay a little while so a replayed token still finds its (dead) family.
REVOKED_RETENTION = timedelta(days=1)


@dataclass(frozen=True)
class Session:
    id: str
    user_id: str
    created_at: datetime
    last_used_at: datetime
    user_agent: str | None

    @classmethod
    def from_document(cls, doc: Document) -> "Session":
        return cls(
            id=doc["_id"],
            user_id=doc["user_id"],
            created_at=doc["created_at"],
            last_used_at=doc["last_used_at"],
            user_agent=doc.get("user_agent"),
        )


@dataclass(frozen=True)
class UsedToken:
    session_id: str
    rotated_at: datetime


class SessionStore:
    def __init__(self, client: AsyncMongoClient[Document], database: str) -> None:
        self.sessions: AsyncCollection[Document] = client[database]["sessions"]
        self.used: AsyncCollection[Document] = client[database]["used_refresh_tokens"]

    async def ensure_indexes(self) -> None:
        await self.sessions.create_index("token_hash", unique=True, name="token_hash_unique")
        await self.sessions.create_index([("user_id", 1), ("active", 1)], name="user_active")
        await self.sessions.create_index("expires_at", name="expires_at")
        await self.used.create_index("expires_at", name="expires_at")

    async def create(
        self, *, user_id: str, token_hash: str, user_agent: str | None, now: datetime, ttl: int
    ) -> Session:
        doc = {
            "_id": uuid.uuid4().hex,
            "user_id": user_id,
            "token_hash": token_hash,
            "active": True,
            "created_at": now,
            "last_used_at": now,
            "expires_at": now + timedelta(seconds=ttl),
            "user_agent": (user_agent or "")[:USER_AGENT_MAX_LENGTH] or None,
        }
        await self.sessions.insert_one(doc)
        return Session.from_document(doc)

    async def rotate(
        self, *, token_hash: str, new_hash: str, now: datetime, ttl: int
    ) -> Session | None:
        """Swap the current token for a new one; None if ``token_hash`` is not current."""
        doc = await self.sessions.find_one_and_update(
            {"token_hash": token_hash, "active": True, "expires_at": {"$gt": now}},
            {
                "$set": {
                    "token_hash": new_hash,
                    "last_used_at": now,
                    "expires_at": now + timedelta(seconds=ttl),
                }
            },
            return_document=ReturnDocument.AFTER,
        )
        if doc is None:
            return None
        await self.used.insert_one(
            {
                "_id": token_hash,
                "session_id": doc["_id"],
                "rotated_at": now,
                "expires_at": doc["expires_at"],
            }
        )
        return Session.from_document(doc)

    async def find_used(self, token_hash: str) -> UsedToken | None:
        doc = await self.used.find_one({"_id": token_hash})
        return UsedToken(doc["session_id"], doc["rotated_at"]) if doc else None

    async def active_ids(self, *, user_id: str, session_id: str | None = None) -> list[str]:
        """Ids of the user's active sessions (just ``session_id``'s, if it is one of them)."""
        query: Document = {"user_id": user_id, "active": True}
        if session_id is not None:
            query["_id"] = session_id
        return [doc["_id"] async for doc in self.sessions.find(query, {"_id": 1})]

    async def revoke(self, *, session_ids: list[str], now: datetime) -> None:
        await self.sessions.update_many(
            {"_id": {"$in": session_ids}}, {"$set": {"active": False, "revoked_at": now}}
        )

    async def list_active(self, *, user_id: str, now: datetime) -> list[Session]:
        cursor = self.sessions.find(
            {"user_id": user_id, "active": True, "expires_at": {"$gt": now}}
        ).sort("last_used_at", -1)
        return [Session.from_document(doc) async for doc in cursor]

    async def delete_expired(self, *, now: datetime) -> int:
        expired = await self.sessions.delete_many(
            {
                "$or": [
                    {"expires_at": {"$lte": now}},
                    {"active": False, "revoked_at": {"$lte": now - REVOKED_RETENTION}},
                ]
            }
        )
        used = await self.used.delete_many({"expires_at": {"$lte": now}})
        return expired.deleted_count + used.deleted_count
