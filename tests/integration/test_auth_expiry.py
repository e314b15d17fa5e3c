"""The auth store adapters against the real FerretDB: expiry enforced in code (FerretDB has no
TTL indexes), and both branches of each capability (MongoDB's, that production runs, and
FerretDB's) answering alike."""

from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta

import pytest
from pymongo.asynchronous.database import AsyncDatabase

from services.auth.app.apikeys import ApiKey
from services.auth.app.config import Settings
from services.auth.app.mongo.api_keys import MongoApiKeyStore
from services.auth.app.mongo.capabilities import Capabilities, Document
from services.auth.app.mongo.sessions import MongoSessionStore
from services.auth.app.tokens import new_secret, secret_digest
from shared.clients import open_mongo
from tests.integration.harness import System

pytestmark = pytest.mark.integration
DAY = 86_400
MONGODB = Capabilities(id_lists_use_index=True, aggregated_counts_use_index=True)
FERRETDB = Capabilities(id_lists_use_index=False, aggregated_counts_use_index=False)
BRANCHES = pytest.mark.parametrize("can", [MONGODB, FERRETDB], ids=["mongodb", "ferretdb"])


@pytest.fixture
async def database(system: System) -> AsyncIterator[AsyncDatabase[Document]]:
    url = system.env["MONGODB_URL"]
    settings = Settings(
        mongodb_url=url, internal_signing_secret=system.env["INTERNAL_SIGNING_SECRET"]
    )
    async with open_mongo(url) as client:
        yield client[settings.mongodb_database]


async def test_the_server_is_detected_as_ferretdb(database: AsyncDatabase[Document]) -> None:
    capabilities = Capabilities(id_lists_use_index=True, aggregated_counts_use_index=True)
    await capabilities.detect(database.client)
    assert capabilities == FERRETDB


@BRANCHES
async def test_an_expired_session_cannot_refresh_and_is_cleaned_up(
    database: AsyncDatabase[Document], can: Capabilities
) -> None:
    store, user = MongoSessionStore(database, can), f"u-expiry-{new_secret()}"
    now = datetime.now(UTC)
    old_token, live_token = new_secret(), new_secret()
    old = await store.create(
        user_id=user,
        token_hash=secret_digest(old_token),
        user_agent=None,
        now=now - timedelta(days=31),
        ttl=30 * DAY,
    )
    live = await store.create(
        user_id=user, token_hash=secret_digest(live_token), user_agent=None, now=now, ttl=DAY
    )
    rotated = await store.rotate(
        token_hash=secret_digest(old_token), new_hash=secret_digest(new_secret()), now=now, ttl=DAY
    )
    assert rotated is None
    assert [s.id for s in await store.list_active(user_id=user, now=now)] == [live.id]
    assert await store.delete_expired(now=now) >= 1
    assert await store.sessions.find_one({"_id": old.id}) is None
    assert await store.sessions.find_one({"_id": live.id}) is not None


@BRANCHES
async def test_revoking_sessions_ends_exactly_those(
    database: AsyncDatabase[Document], can: Capabilities
) -> None:
    store, user, now = (
        MongoSessionStore(database, can),
        f"u-revoke-{new_secret()}",
        datetime.now(UTC),
    )
    sessions = [
        await store.create(
            user_id=user, token_hash=secret_digest(new_secret()), user_agent="ua", now=now, ttl=DAY
        )
        for _ in range(3)
    ]
    await store.revoke(session_ids=[sessions[0].id, sessions[2].id], now=now)
    await store.revoke(session_ids=[], now=now)
    assert await store.active_ids(user_id=user) == [sessions[1].id]
    revoked = await store.get(sessions[2].id)
    assert revoked is not None
    assert not revoked.active


@BRANCHES
async def test_an_expired_api_key_is_cleaned_up_and_keys_are_counted(
    database: AsyncDatabase[Document], can: Capabilities
) -> None:
    store, user, now = MongoApiKeyStore(database, can), f"u-keys-{new_secret()}", datetime.now(UTC)
    expired_hash, fresh_hash = secret_digest(new_secret()), secret_digest(new_secret())
    expired = ApiKey.new(
        user_id=user,
        name="old",
        prefix="tsk_old",
        scopes=["tasks:read"],
        now=now - timedelta(days=2),
        expires_in_days=1,
    )
    fresh = ApiKey.new(
        user_id=user,
        name="fresh",
        prefix="tsk_new",
        scopes=["tasks:read"],
        now=now,
        expires_in_days=365,
    )
    await store.create(expired, key_hash=expired_hash)
    await store.create(fresh, key_hash=fresh_hash)
    assert await store.by_hash(key_hash=fresh_hash) == fresh
    assert await store.count(user_id=user) == 2
    assert await store.delete_expired(now=now) >= 1
    assert await store.by_hash(key_hash=expired_hash) is None
    assert await store.list(user_id=user) == [fresh]
    assert await store.count(user_id=user) == 1


async def test_a_key_stored_without_an_expiry_lives_a_year_at_most(
    database: AsyncDatabase[Document],
) -> None:
    # Keys stored before expiry was required carry ``expires_at: null``; none may live forever.
    store = MongoApiKeyStore(database, FERRETDB)
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
    legacy = await store.by_hash(key_hash=legacy_hash)
    assert legacy is not None
    assert legacy.expires_at == legacy.created_at + timedelta(days=365)
    assert legacy.scopes == ()
