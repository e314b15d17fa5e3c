"""Every list shape the contract allows is an index range scan on the database: a page costs
a page, whatever the user's total (FerretDB's plan, from ``explain``).

Each sort (both directions), with and without each filter, first pages and cursor pages, and
numbered pages: the sort and the limit are pushed down to SQLite together with the owner
filter, SQLite searches an index (never scans the table) and never sorts in a temporary
b-tree; the page's rows then match what the service returns.
"""

import itertools
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from pymongo import AsyncMongoClient

from services.tasks.app.cursors import CursorPosition
from services.tasks.app.documents import derived_fields, new_task_id
from services.tasks.app.mongo_store import Capabilities, MongoTaskStore
from services.tasks.app.queries import SORT_KEYS, SortOrder
from services.tasks.app.schemas import ListQuery
from services.tasks.app.store import PageRequest
from tests.integration.harness import System

pytestmark = pytest.mark.integration
OWNER = "owner-plans"
COLLECTION = "tasks_query_plans"
SORTS = [f"{sign}{key}" for key in SORT_KEYS for sign in ("+", "-")]
FILTERS: list[dict[str, Any]] = [
    {},
    {"status": "todo"},
    {"priority": "high"},
    {"tag": "home"},
    {"due_before": "2030-01-01T00:00:00Z", "due_after": "2020-01-01T00:00:00Z"},
    {"status": "in_progress", "priority": "medium", "tag": "work"},
]


def task(n: int) -> dict[str, Any]:
    at = datetime(2026, 1, 1, tzinfo=UTC) + timedelta(minutes=n)
    fields = {
        "title": f"task {n}",
        "description": "",
        "status": ["todo", "in_progress", "done"][n % 3],
        "priority": ["low", "medium", "high"][n % 3],
        "tags": [["home"], ["work"], []][n % 3],
        "due_date": None if n % 4 == 0 else at + timedelta(days=n % 7),
    }
    return {
        "_id": new_task_id(),
        "owner_id": OWNER,
        **fields,
        **derived_fields(fields),
        "created_at": at,
        "updated_at": at,
        "version": 1,
        "deleted": n % 10 == 0,
        "pending_events": [],
        "outbox_pending": False,
    }


@pytest.fixture(scope="module")
async def store(system: System) -> AsyncIterator[MongoTaskStore]:
    client: AsyncMongoClient[dict[str, Any]] = AsyncMongoClient(system.env["MONGODB_URL"])
    try:
        database = client.get_default_database()
        collection = database[COLLECTION]
        await collection.drop()
        tasks = MongoTaskStore(collection, await Capabilities.of(database))
        await tasks.ensure_indexes()
        await collection.insert_many([task(n) for n in range(300)])
        yield tasks
    finally:
        await client.close()


def plan_steps(explained: dict[str, Any]) -> list[str]:
    return [step.split("detail=", 1)[1] for step in explained["queryPlanner"]["Plan"]]


def assert_page_costs_a_page(explained: dict[str, Any]) -> None:
    steps = plan_steps(explained)
    assert explained["sortPushdown"], steps
    assert explained["limitPushdown"], steps
    assert any(step.startswith("SEARCH") and "USING INDEX" in step for step in steps), steps
    # No scan of the table (json_each scans one document's array; subqueries are a page).
    assert not [step for step in steps if step.startswith(f"SCAN {COLLECTION}")], steps
    assert not [step for step in steps if "TEMP B-TREE" in step], steps


@pytest.mark.parametrize(("sort", "filters"), list(itertools.product(SORTS, FILTERS)))
async def test_every_list_shape_is_an_index_range_scan(
    store: MongoTaskStore, sort: str, filters: dict[str, Any]
) -> None:
    query = ListQuery.model_validate({"sort": sort, "limit": 20, **filters})
    order = SortOrder.parse(sort)
    first = PageRequest(OWNER, query, order, None, limit=21)
    assert_page_costs_a_page(await store.explain_page(first))
    docs = await store.find_page(first)
    if len(docs) < 21:
        return
    after = CursorPosition(value=docs[19][order.key], task_id=docs[19]["_id"])
    next_page = PageRequest(OWNER, query, order, after, limit=21)
    assert_page_costs_a_page(await store.explain_page(next_page))
    following = await store.find_page(next_page)
    # The cursor page continues exactly where the first one ended.
    everything = await store.find_page(PageRequest(OWNER, query, order, None, limit=1000))
    assert [d["_id"] for d in docs[:20] + following] == [d["_id"] for d in everything][
        : 20 + len(following)
    ]


@pytest.mark.parametrize("sort", SORTS)
async def test_numbered_pages_push_skip_plus_limit(store: MongoTaskStore, sort: str) -> None:
    query = ListQuery.model_validate({"sort": sort, "limit": 20, "page": 3})
    page = PageRequest(OWNER, query, SortOrder.parse(sort), None, limit=20, skip=40)
    assert_page_costs_a_page(await store.explain_page(page))
    assert len(await store.find_page(page)) == 20
