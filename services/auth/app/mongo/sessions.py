"""``SessionStore`` on MongoDB: sessions, current refresh tokens, rotated-away tokens.

Refresh-token hashes are the ``_id`` of their documents, so every token lookup is by primary
key. ``refresh_tokens`` holds the one current token of each session; rotating deletes it with
one atomic ``find_one_and_delete``, so of two concurrent refreshes with the same token exactly
one wins, whichever replicas serve them (atomic on MongoDB and on our FerretDB build:
docs/decisions/0200-atomic-conditional-writes.md). The rotated-away hash moves to
``used_refresh_tokens``. Expired records are deleted by ``delete_expired``, which the service
runs periodically on both servers (FerretDB has no TTL indexes; 0830-auth-stores.md).
"""

import uuid
from datetime import datetime, timedelta

from pymongo.asynchronous.collection import AsyncCollection
from pymongo.asynchronous.database import AsyncDatabase

from services.auth.app.mongo.capabilities import Capabilities, Document
from services.auth.app.sessions import REVOKED_RETENTION, Session, UsedToken, stored_user_agent


def session_of(doc: Document) -> Session:
    return Session(
        id=doc["_id"],
        user_id=doc["user_id"],
        created_at=doc["created_at"],
        last_used_at=doc["last_used_at"],
        user_agent=doc.get("user_agent"),
        active=doc["active"],
        expires_at=doc["expires_at"],
    )


class MongoSessionStore:
    def __init__(self, database: AsyncDatabase[Document], capabilities: Capabilities) -> None:
        self.sessions: AsyncCollection[Document] = database["sessions"]
        self.tokens: AsyncCollection[Document] = database["refresh_tokens"]
        self.used: AsyncCollection[Document] = database["used_refresh_tokens"]
        self._can = capabilities

    async def ensure_indexes(self) -> None:
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
            "user_agent": stored_user_agent(user_agent),
        }
        await self.sessions.insert_one(doc)
        await self._issue(token_hash, session_id=session_id, expires_at=expires_at)
        return session_of(doc)

    async def _issue(self, token_hash: str, *, session_id: str, expires_at: datetime) -> None:
        await self.tokens.insert_one(
            {"_id": token_hash, "session_id": session_id, "expires_at": expires_at}
        )

    async def rotate(
        self, *, token_hash: str, new_hash: str, now: datetime, ttl: int
    ) -> Session | None:
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
        return session_of(doc) if doc else None

    async def find_used(self, token_hash: str) -> UsedToken | None:
        doc = await self.used.find_one({"_id": token_hash})
        return UsedToken(doc["session_id"], doc["rotated_at"]) if doc else None

    async def active_ids(self, *, user_id: str) -> list[str]:
        cursor = self.sessions.find({"user_id": user_id, "active": True}, {"_id": 1})
        return [doc["_id"] async for doc in cursor]

    async def revoke(self, *, session_ids: list[str], now: datetime) -> None:
        revoked = {"$set": {"active": False, "revoked_at": now}}
        if self._can.id_lists_use_index:
            if session_ids:
                await self.sessions.update_many({"_id": {"$in": session_ids}}, revoked)
            return
        # One update by _id each: FerretDB v1 would scan the collection for an $in.
        for session_id in session_ids:
            await self.sessions.update_one({"_id": session_id}, revoked)

    async def list_active(self, *, user_id: str, now: datetime) -> list[Session]:
        cursor = self.sessions.find(
            {"user_id": user_id, "active": True, "expires_at": {"$gt": now}}
        ).sort("last_used_at", -1)
        return [session_of(doc) async for doc in cursor]

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
