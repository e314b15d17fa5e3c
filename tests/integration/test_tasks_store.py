"""The MongoDB adapter's two branches give the same answers on a real server.

Production runs the MongoDB branch of each capability (``$in`` read-backs, one
``createIndexes`` for all, ``count_documents``); the local stack runs the FerretDB one. Both
are correct on FerretDB (the MongoDB ones only slower), so both are run here on one data set,
except the MongoDB branch's repeated ``createIndexes``, which FerretDB cannot answer.
"""

from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from pymongo import AsyncMongoClient
from pymongo.asynchronous.database import AsyncDatabase

from services.tasks.app.documents import derived_fields, new_task_id
from services.tasks.app.mongo_store import Capabilities, MongoTaskStore
from services.tasks.app.schemas import ListQuery
from tests.integration.harness import System

pytestmark = pytest.mark.integration
OWNER = "owner-store"
NOW = datetime(2026, 6, 1, tzinfo=UTC)
MONGODB = Capabilities(
    id_lists_use_index=True, create_many_indexes_at_once=True, aggregated_counts_use_index=True
)
FERRETDB = Capabilities(
    id_lists_use_index=False, create_many_indexes_at_once=False, aggregated_counts_use_index=False
)


def task(n: int) -> dict[str, Any]:
    fields = {
        "title": f"t{n}",
        "description": "",
        "status": ["todo", "in_progress", "done"][n % 3],
        "priority": "medium",
        "tags": ["a"] if n % 2 else [],
        "due_date": None if n % 4 == 0 else NOW + timedelta(days=n % 5 - 2),
    }
    return {
        "_id": new_task_id(),
        "owner_id": OWNER,
        **fields,
        **derived_fields(fields),
        "created_at": NOW,
        "updated_at": NOW,
        "version": 1,
        "deleted": n % 7 == 0,
        "pending_events": [{"version": 1, "at": NOW}] if n % 6 == 0 else [],
        "outbox_pending": n % 6 == 0,
    }


@pytest.fixture(scope="module")
async def database(system: System) -> AsyncIterator[AsyncDatabase[dict[str, Any]]]:
    client: AsyncMongoClient[dict[str, Any]] = AsyncMongoClient(
        system.env["MONGODB_URL"], tz_aware=True
    )
    try:
        yield client.get_default_database()
    finally:
        await client.close()


@pytest.mark.parametrize("capabilities", [MONGODB, FERRETDB], ids=["mongodb", "ferretdb"])
async def test_both_branches_answer_alike(
    database: AsyncDatabase[dict[str, Any]], capabilities: Capabilities
) -> None:
    name = f"tasks_store_{capabilities.id_lists_use_index}"
    await database.drop_collection(name)
    store = MongoTaskStore(database[name], capabilities)
    await store.ensure_indexes()
    if not capabilities.create_many_indexes_at_once:
        # Again, as a second replica starting does. FerretDB drops the connection when one
        # createIndexes names several existing indexes (why that capability exists), so the
        # MongoDB branch's second call is left to MongoDB.
        await store.ensure_indexes()
    docs = [task(n) for n in range(60)]
    for doc in docs:
        await store.insert(doc)
    live = [doc for doc in docs if not doc["deleted"]]

    counts = await store.count_by_status(owner_id=OWNER)
    assert counts == {
        s: sum(d["status"] == s for d in live) for s in ("todo", "in_progress", "done")
    }
    overdue = [d for d in live if d["status"] != "done" and d["due_date"] and d["due_date"] < NOW]
    assert await store.count_overdue(owner_id=OWNER, now=NOW) == len(overdue)
    assert await store.count(owner_id=OWNER, query=ListQuery(tag="a")) == sum(
        d["tags"] == ["a"] for d in live
    )
    pending = await store.pending_outboxes([doc["_id"] for doc in docs])
    assert {doc["_id"] for doc in pending} == {d["_id"] for d in docs if d["pending_events"]}
    stale = await store.stale_task_ids(older_than=NOW + timedelta(seconds=1), limit=100)
    assert set(stale) == {d["_id"] for d in docs if d["pending_events"]}
