"""Idempotency-Key through the gateway: a retried write is written and published once."""

import asyncio

import httpx
import pytest

from tests.integration.harness import System
from tests.support.accounts import Account, new_account
from tests.support.problems import assert_problem
from tests.support.search import unique_word
from tests.support.tasks import events_of, task_events

pytestmark = pytest.mark.integration

TASKS = "/api/v1/tasks"
RETRIES = 10


def keyed(account: Account, key: str) -> dict[str, str]:
    return {**account.headers, "Idempotency-Key": key}


async def test_the_same_create_retried_concurrently_makes_one_task_and_one_event(
    system: System, api: httpx.AsyncClient, account: Account
) -> None:
    title, key = unique_word(), f"create-{unique_word()}"
    answers = await asyncio.gather(
        *(
            api.post(TASKS, json={"title": title}, headers=keyed(account, key))
            for _ in range(RETRIES)
        )
    )
    assert {answer.status_code for answer in answers} == {201}
    assert len({answer.text for answer in answers}) == 1
    replayed = [answer.headers.get("idempotent-replayed") for answer in answers]
    assert replayed.count("true") == RETRIES - 1
    task_id = answers[0].json()["id"]
    assert {answer.headers["location"] for answer in answers} == {f"{TASKS}/{task_id}"}
    listed = await api.get(TASKS, params={"limit": 100}, headers=account.headers)
    assert [task["id"] for task in listed.json()["items"] if task["title"] == title] == [task_id]
    # A task created after the retries: once its event is on the topic, so is any duplicate's
    # (the retries were all answered before it was written).
    marker = await api.post(TASKS, json={"title": "marker"}, headers=account.headers)
    ids = {marker.json()["id"]}
    records = await task_events(system, until=lambda rs: bool(events_of(rs, ids)), within=30)
    mine = [
        event
        for event in events_of(records, {task_id, *ids})
        if event.data.owner_id == account.user_id and event.data.title == title
    ]
    assert len(mine) == 1


async def test_a_retried_patch_applies_once_and_a_reused_key_with_another_body_is_refused(
    api: httpx.AsyncClient, account: Account
) -> None:
    created = await api.post(TASKS, json={"title": "to edit"}, headers=account.headers)
    path = f"{TASKS}/{created.json()['id']}"
    key = f"patch-{unique_word()}"
    first = await api.patch(path, json={"priority": "high"}, headers=keyed(account, key))
    again = await api.patch(path, json={"priority": "high"}, headers=keyed(account, key))
    assert first.status_code == again.status_code == 200
    assert again.json() == first.json()
    assert again.json()["version"] == 2
    assert again.headers["idempotent-replayed"] == "true"
    other = await api.patch(path, json={"priority": "low"}, headers=keyed(account, key))
    assert_problem(other, 422)
    current = await api.get(path, headers=account.headers)
    assert current.json()["version"] == 2
    assert current.json()["priority"] == "high"


async def test_keys_are_per_user_and_must_be_visible_ascii(
    api: httpx.AsyncClient, account: Account
) -> None:
    other = await new_account(api)
    key = f"shared-{unique_word()}"
    mine = await api.post(TASKS, json={"title": "mine"}, headers=keyed(account, key))
    theirs = await api.post(TASKS, json={"title": "mine"}, headers=keyed(other, key))
    assert mine.status_code == theirs.status_code == 201
    assert mine.json()["id"] != theirs.json()["id"]
    assert "idempotent-replayed" not in theirs.headers
    bad = await api.post(TASKS, json={"title": "x"}, headers=keyed(account, "with space"))
    assert_problem(bad, 422)
