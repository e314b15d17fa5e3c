"""Expiry enforced in code (FerretDB has no TTL indexes), against the real FerretDB."""

from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta

import pytest

from services.auth.app.apikeys import ApiKeyStore
from services.auth.app.config import Settings
from services.auth.app.sessions import SessionStore
from services.auth.app.tokens import new_secret, secret_digest
from shared.clients import MongoClient, open_mongo
from tests.integration.harness import System

pytestmark = pytest.mark.integration
DAY = 86_400


@pytest.fixture
async def mongo(system: System) -> AsyncIterator[tuple[MongoClient, str]]:
    url = system.env["MONGODB_URL"]
    database = Settings(
        mongodb_url=url, internal_signing_secret=system.env["INTERNAL_SIGNING_SECRET"]
    )
    async with open_mongo(url) as client:
        yield client, database.mongodb_database


async def test_an_expired_session_cannot_refresh_and_is_cleaned_up(
    mongo: tuple[MongoClient, str],
) -> None:
    store = SessionStore(*mongo)
    now = datetime.now(UTC)
    old_token, live_token = new_secret(), new_secret()
    old = await store.create(
        user_id="u-expiry",
        token_hash=secret_digest(old_token),
        user_agent=None,
        now=now - timedelta(days=31),
        ttl=30 * DAY,
    )
    live = await store.create(
        user_id="u-expiry", token_hash=secret_digest(live_token), user_agent=None, now=now, ttl=DAY
    )
    rotated = await store.rotate(
        token_hash=secret_digest(old_token), new_hash=secret_digest(new_secret()), now=now, ttl=DAY
    )
    assert rotated is None
    assert [s.id for s in await store.list_active(user_id="u-expiry", now=now)] == [live.id]
    assert await store.delete_expired(now=now) >= 1
    assert await store.sessions.find_one({"_id": old.id}) is None
    assert await store.sessions.find_one({"_id": live.id}) is not None


async def test_an_expired_api_key_does_not_resolve_and_is_cleaned_up(
    mongo: tuple[MongoClient, str],
) -> None:
    store = ApiKeyStore(*mongo)
    now = datetime.now(UTC)
    expired_hash, fresh_hash = secret_digest(new_secret()), secret_digest(new_secret())
    expired = await store.create(
        user_id="u-expiry",
        name="old",
        prefix="tsk_old",
        key_hash=expired_hash,
        scopes=["tasks:read"],
        now=now - timedelta(days=2),
        expires_in_days=1,
    )
    await store.create(
        user_id="u-expiry",
        name="fresh",
        prefix="tsk_new",
        key_hash=fresh_hash,
        scopes=["tasks:read"],
        now=now,
        expires_in_days=365,
    )
    assert await store.by_hash(key_hash=expired_hash, now=now) is None
    assert await store.by_hash(key_hash=fresh_hash, now=now) is not None
    assert await store.delete_expired(now=now) >= 1
    assert await store.keys.find_one({"key_id": expired.id}) is None
    assert await store.by_hash(key_hash=fresh_hash, now=now) is not None


async def test_a_key_stored_without_an_expiry_lives_a_year_at_most(
    mongo: tuple[MongoClient, str],
) -> None:
    # Keys made before expiry was required carry ``expires_at: null``; none may live forever.
    store = ApiKeyStore(*mongo)
    now = datetime.now(UTC)
    legacy_hash = secret_digest(new_secret())
    await store.keys.insert_one(
        {
            "_id": legacy_hash,
            "key_id": new_secret(),
            "user_id": "u-expiry",
            "name": "legacy",
            "prefix": "tsk_legacy",
            "created_at": now - timedelta(days=366),
            "expires_at": None,
        }
    )
    assert await store.by_hash(key_hash=legacy_hash, now=now) is None
    assert await store.by_hash(key_hash=legacy_hash, now=now - timedelta(days=2)) is not None
