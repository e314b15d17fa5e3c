"""Sessions (refresh-token families) in MongoDB.

Only SHA-256 hashes of refresh tokens are stored, as ``_id``s, because FerretDB v1 (SQLite)
answers any other filter by scanning the whole collection. ``refresh_tokens`` holds the one
current token of each session; rotating deletes it with one atomic ``find_one_and_delete``, so
of two concurrent refreshes with the same token exactly one wins, whichever replicas serve them
(atomic on MongoDB and on our FerretDB build: docs/decisions/0200-atomic-conditional-writes.md).
The rotated-away hash moves to ``used_refresh_tokens`` until the session would have expired,
which is how a replayed old token is recognised as theft. FerretDB has no TTL indexes, so
``delete_expired`` runs periodically instead.
"""

import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from pymongo import AsyncMongoClient
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
    active: bool
    expires_at: datetime

    @classmethod
    def from_document(cls, doc: Document) -> "Session":
        return cls(
            id=doc["_id"],
            user_id=doc["user_id"],
            created_at=doc["created_at"],
            last_used_at=doc["last_used_at"],
            user_agent=doc.get("user_agent"),
            active=doc["active"],
            expires_at=doc["expires_at"],
        )

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


class SessionStore:
    def __init__(self, client: AsyncMongoClient[Document], database: str) -> None:
        self.sessions: AsyncCollection[Document] = client[database]["sessions"]
        self.tokens: AsyncCollection[Document] = client[database]["refresh_tokens"]
        self.used: AsyncCollection[Document] = client[database]["used_refresh_tokens"]

    async def ensure_indexes(self) -> None:
        # For MongoDB in production; FerretDB v1 keeps them but scans anyway.
        await self.sessions.create_index([("user_id", 1), ("active", 1)], name="user_active")
        for collection in (self.sessions, self.tokens, self.used):
            await collection.create_index("expires_at", name="expires_at")

    async def create(
        self, *, user_id: str, token_hash: str, user_agent: str | None, now: datetime, ttl: int
    ) -> Session:
        session_id, expires_at = uuid.uuid4().hex, now + timedelta(seconds=ttl)
        doc: Document = {
            "_id": session_id,
            "user_id": user_id,
            "active": True,
            "created_at": now,
            "last_used_at": now,
            "expires_at": expires_at,
            "user_agent": (user_agent or "")[:USER_AGENT_MAX_LENGTH] or None,
        }
        await self.sessions.insert_one(doc)
        await self._issue(token_hash, session_id=session_id, expires_at=expires_at)
        return Session.from_document(doc)

    async def _issue(self, token_hash: str, *, session_id: str, expires_at: datetime) -> None:
        await self.tokens.insert_one(
            {"_id": token_hash, "session_id": session_id, "expires_at": expires_at}
        )

    async def rotate(
        self, *, token_hash: str, new_hash: str, now: datetime, ttl: int
    ) -> Session | None:
        """Swap the current token for a new one; None if ``token_hash`` is not current."""
        current = await self.tokens.find_one_and_delete({"_id": token_hash})
        if current is None:
            return None
        session = await self.get(current["session_id"])
        if session is None or not session.usable(now):
            return None
        expires_at = now + timedelta(seconds=ttl)
        await self.used.insert_one(
            {
                "_id": token_hash,
                "session_id": session.id,
                "rotated_at": now,
                "expires_at": expires_at,
            }
        )
        await self._issue(new_hash, session_id=session.id, expires_at=expires_at)
        await self.sessions.update_one(
            {"_id": session.id}, {"$set": {"last_used_at": now, "expires_at": expires_at}}
        )
        return session

    async def get(self, session_id: str) -> Session | None:
        doc = await self.sessions.find_one({"_id": session_id})
        return Session.from_document(doc) if doc else None

    async def find_used(self, token_hash: str) -> UsedToken | None:
        doc = await self.used.find_one({"_id": token_hash})
        return UsedToken(doc["session_id"], doc["rotated_at"]) if doc else None

    async def active_ids(self, *, user_id: str) -> list[str]:
        cursor = self.sessions.find({"user_id": user_id, "active": True}, {"_id": 1})
        return [doc["_id"] async for doc in cursor]

    async def revoke(self, *, session_ids: list[str], now: datetime) -> None:
        # One update by _id each: FerretDB v1 would scan the collection for an $in.
        for session_id in session_ids:
            await self.sessions.update_one(
                {"_id": session_id}, {"$set": {"active": False, "revoked_at": now}}
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
        deleted = expired.deleted_count
        for collection in (self.tokens, self.used):
            deleted += (await collection.delete_many({"expires_at": {"$lte": now}})).deleted_count
        return deleted
