"""``ApiKeyStore`` on MongoDB: the key's hash is the document's ``_id``.

Resolving a key (the gateway's hot path) is thereby a primary-key lookup, which FerretDB v1
served from an index where it scanned for other filters.
"""

from datetime import datetime

from pymongo.asynchronous.collection import AsyncCollection
from pymongo.asynchronous.database import AsyncDatabase

from services.auth.app.apikeys import MAX_LIFETIME, SCOPES, ApiKey
from services.auth.app.mongo.capabilities import Capabilities, Document


def api_key_of(doc: Document) -> ApiKey:
    # Keys stored before scopes and expiry existed get no scope and the longest lifetime (0830).
    return ApiKey(
        id=doc["key_id"],
        user_id=doc["user_id"],
        name=doc["name"],
        prefix=doc["prefix"],
        scopes=tuple(scope for scope in doc.get("scopes", ()) if scope in SCOPES),
        created_at=doc["created_at"],
        expires_at=doc.get("expires_at") or doc["created_at"] + MAX_LIFETIME,
    )


class MongoApiKeyStore:
    def __init__(self, database: AsyncDatabase[Document], capabilities: Capabilities) -> None:
        self.keys: AsyncCollection[Document] = database["api_keys"]
        self._can = capabilities

    async def ensure_indexes(self) -> None:
        await self.keys.create_index("key_id", name="key_id")
        await self.keys.create_index("user_id", name="user_id")

    async def create(self, key: ApiKey, *, key_hash: str) -> None:
        await self.keys.insert_one(
            {
                "_id": key_hash,
                "key_id": key.id,
                "user_id": key.user_id,
                "name": key.name,
                "prefix": key.prefix,
                "scopes": list(key.scopes),
                "created_at": key.created_at,
                "expires_at": key.expires_at,
            }
        )

    async def count(self, *, user_id: str) -> int:
        if self._can.aggregated_counts_use_index:
            return await self.keys.count_documents({"user_id": user_id})
        reply = await self.keys.database.command(
            "count", self.keys.name, query={"user_id": user_id}
        )
        count: int = reply["n"]
        return count

    async def list(self, *, user_id: str) -> list[ApiKey]:
        cursor = self.keys.find({"user_id": user_id}).sort("created_at", -1)
        return [api_key_of(doc) async for doc in cursor]

    async def owned(self, *, key_id: str, user_id: str) -> bool:
        found = await self.keys.find_one({"key_id": key_id, "user_id": user_id}, {"_id": 1})
        return found is not None

    async def delete(self, *, key_id: str, user_id: str) -> None:
        await self.keys.delete_one({"key_id": key_id, "user_id": user_id})

    async def by_hash(self, *, key_hash: str) -> ApiKey | None:
        doc = await self.keys.find_one({"_id": key_hash})
        return api_key_of(doc) if doc is not None else None

    async def delete_expired(self, *, now: datetime) -> int:
        result = await self.keys.delete_many({"expires_at": {"$lte": now}})
        return result.deleted_count
