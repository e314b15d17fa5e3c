"""Hostile input through the gateway: NoSQL operator injection in bodies, queries and forms.

Every answer must be a clear 4xx problem+json (or a harmless 200 where the contract says so),
never a 5xx, and nothing may change. Transport-level abuse (sizes, framing, encodings, depth)
is in ``test_hostile_transport.py``, JWT forgeries in ``test_hostile_jwt.py``, schema-driven
fuzzing in ``test_hostile_fuzz.py``.
"""

from typing import Any

import httpx
import pytest

from tests.support.accounts import Account
from tests.support.problems import assert_problem
from tests.support.tasks import create_task

pytestmark = pytest.mark.integration


async def snapshot(client: httpx.AsyncClient, account: Account) -> list[dict[str, Any]]:
    response = await client.get("/api/v1/tasks", params={"limit": 100}, headers=account.headers)
    assert response.status_code == 200, response.text
    items: list[dict[str, Any]] = response.json()["items"]
    return items


INJECTED_BODIES: list[dict[str, Any]] = [
    {"title": {"$ne": None}},
    {"title": "x", "$where": "sleep(1000) || true"},
    {"title": "x", "status": {"$in": ["todo", "done"]}},
    {"title": "x", "tags": [{"$gt": ""}]},
    {"title": "x", "owner_id": "someone-else"},
    {"title": "x", "id": "000000000000000000000000"},
    {"title": "x", "version": 99},
    {"$set": {"title": "x"}},
]


@pytest.mark.parametrize("body", INJECTED_BODIES)
async def test_operator_injection_in_a_create_is_refused(
    client: httpx.AsyncClient, account: Account, body: dict[str, Any]
) -> None:
    response = await client.post("/api/v1/tasks", json=body, headers=account.headers)
    assert_problem(response, 422)
    assert await snapshot(client, account) == []


@pytest.mark.parametrize("body", INJECTED_BODIES[1:])
async def test_operator_injection_in_a_patch_changes_nothing(
    client: httpx.AsyncClient, account: Account, body: dict[str, Any]
) -> None:
    task = await create_task(client, account, title="original")
    response = await client.patch(f"/api/v1/tasks/{task['id']}", json=body, headers=account.headers)
    assert_problem(response, 400, 422)
    assert await snapshot(client, account) == [task]


@pytest.mark.parametrize(
    "params",
    [
        {"status": '{"$ne": "todo"}'},
        {"priority": "$gt"},
        {"sort": '{"$natural": 1}'},
        {"limit": '{"$gt": 0}'},
        {"cursor": '{"$ne": null}'},
        {"due_before": '{"$gt": ""}'},
    ],
)
async def test_operator_injection_in_list_filters_is_refused(
    client: httpx.AsyncClient, account: Account, params: dict[str, str]
) -> None:
    await create_task(client, account, title="todo one")
    response = await client.get("/api/v1/tasks", params=params, headers=account.headers)
    assert_problem(response, 400, 422)


@pytest.mark.parametrize(
    "query", ["status[$ne]=todo", "tag[$regex]=.*", "status[$in][]=todo", "priority[$exists]=1"]
)
async def test_bracket_operators_in_query_strings_are_never_interpreted(
    client: httpx.AsyncClient, account: Account, query: str
) -> None:
    # Only "todo" tasks exist: an interpreted `$ne todo` would return none of them. A service
    # may refuse the parameter (4xx) or ignore it; it must never apply it as an operator.
    tasks = [await create_task(client, account, title=f"todo {n}") for n in range(2)]
    response = await client.get(f"/api/v1/tasks?{query}", headers=account.headers)
    if response.status_code >= 400:
        assert_problem(response, 400, 422)
        return
    assert response.status_code == 200
    assert {t["id"] for t in response.json()["items"]} == {t["id"] for t in tasks}


async def test_literal_operator_strings_match_literally(
    client: httpx.AsyncClient, account: Account
) -> None:
    await create_task(client, account, title="tagged", tags=["plain"])
    response = await client.get(
        "/api/v1/tasks", params={"tag": '{"$ne": null}'}, headers=account.headers
    )
    if response.status_code == 200:
        assert response.json()["items"] == []
    else:
        assert_problem(response, 400, 422)


@pytest.mark.parametrize(
    "query", ["$where", '{"$ne": null}', ".*", "title:x OR *", '"unbalanced', "[a TO z]", "(", "\\"]
)
async def test_query_syntax_in_search_is_plain_text(
    client: httpx.AsyncClient, account: Account, query: str
) -> None:
    await create_task(client, account, title="something else entirely")
    response = await client.get("/api/v1/search", params={"q": query}, headers=account.headers)
    assert response.status_code == 200, response.text
    assert response.json()["total"] == 0


@pytest.mark.parametrize(
    "body",
    [
        {"email": {"$ne": None}, "password": {"$ne": None}},
        {"email": {"$gt": ""}, "password": "whatever-password"},
        {"email": "a@example.test", "password": {"$regex": ".*"}},
    ],
)
async def test_operator_injection_in_login_is_refused(
    client: httpx.AsyncClient, account: Account, body: dict[str, Any]
) -> None:
    response = await client.post("/api/v1/auth/login", json=body)
    assert_problem(response, 400, 422)
    assert "access_token" not in response.text


async def test_operator_injection_in_the_token_form_is_refused(
    client: httpx.AsyncClient, account: Account
) -> None:
    form = {"grant_type": "password", "username[$ne]": "x", "password[$ne]": "x"}
    response = await client.post("/api/v1/auth/token", data=form)
    assert response.status_code == 400, response.text
    assert "access_token" not in response.text
