"""API keys in MongoDB: only the SHA-256 of a key is stored, next to its visible prefix.

The hash is the document's ``_id`` so resolving a key (the gateway's hot path) is a primary-key
lookup: FerretDB v1 (SQLite) would scan the collection for any other filter.
"""

import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, Literal, get_args

from pymongo import AsyncMongoClient
from pymongo.asynchronous.collection import AsyncCollection

Document = dict[str, Any]
Scope = Literal["tasks:read", "tasks:write", "search:read"]
SCOPES: frozenset[str] = frozenset(get_args(Scope))
MAX_LIFETIME = timedelta(days=365)


@dataclass(frozen=True)
class ApiKey:
    id: str
    user_id: str
    name: str
    prefix: str
    scopes: tuple[str, ...]
    created_at: datetime
    expires_at: datetime

    @classmethod
    def from_document(cls, doc: Document) -> "ApiKey":
        # Keys made before scopes and expiry existed get no scope and the longest lifetime.
        return cls(
            id=doc["key_id"],
            user_id=doc["user_id"],
            name=doc["name"],
            prefix=doc["prefix"],
            scopes=tuple(scope for scope in doc.get("scopes", ()) if scope in SCOPES),
            created_at=doc["created_at"],
            expires_at=doc.get("expires_at") or doc["created_at"] + MAX_LIFETIME,
        )


class ApiKeyStore:
    def __init__(self, client: AsyncMongoClient[Document], database: str) -> None:
        self.keys: AsyncCollection[Document] = client[database]["api_keys"]

    async def ensure_indexes(self) -> None:
        await self.keys.create_index("key_id", name="key_id")
        await self.keys.create_index("user_id", name="user_id")

    async def create(
        self,
        *,
        user_id: str,
        name: str,
        prefix: str,
        key_hash: str,
        scopes: list[str],
        now: datetime,
        expires_in_days: int,
    ) -> ApiKey:
        doc = {
            "_id": key_hash,
            "key_id": uuid.uuid4().hex,
            "user_id": user_id,
            "name": name,
            "prefix": prefix,
            "scopes": sorted(set(scopes)),
            "created_at": now,
            "expires_at": now + min(timedelta(days=expires_in_days), MAX_LIFETIME),
        }
        await self.keys.insert_one(doc)
        return ApiKey.from_document(doc)

    async def count(self, *, user_id: str) -> int:
        return await self.keys.count_documents({"user_id": user_id})

    async def list_active(self, *, user_id: str, now: datetime) -> list[ApiKey]:
        return [key for key in await self.list(user_id=user_id) if key.expires_at > now]

    async def list(self, *, user_id: str) -> list[ApiKey]:
        cursor = self.keys.find({"user_id": user_id}).sort("created_at", -1)
        return [ApiKey.from_document(doc) async for doc in cursor]

    async def owned(self, *, key_id: str, user_id: str) -> bool:
        found = await self.keys.find_one({"key_id": key_id, "user_id": user_id}, {"_id": 1})
        return found is not None

    async def delete(self, *, key_id: str, user_id: str) -> None:
        await self.keys.delete_one({"key_id": key_id, "user_id": user_id})

    async def by_hash(self, *, key_hash: str, now: datetime) -> ApiKey | None:
        doc = await self.keys.find_one({"_id": key_hash})
        key = ApiKey.from_document(doc) if doc is not None else None
        return key if key is not None and key.expires_at > now else None

    async def delete_expired(self, *, now: datetime) -> int:
        result = await self.keys.delete_many({"expires_at": {"$lte": now}})
        return result.deleted_count
