"""OFREP through the gateway: the repository's flag file, evaluated for the signed-in user."""

import json

import httpx
import pytest

from deploy.local.services import REPO
from tests.support.accounts import Account, bearer
from tests.support.problems import assert_problem

pytestmark = pytest.mark.integration
BULK = "/ofrep/v1/evaluate/flags"
FLAGS = json.loads((REPO / "deploy" / "flags" / "flags.json").read_text())["flags"]
VISIBLE = sorted(k for k, f in FLAGS.items() if f.get("metadata", {}).get("clientVisible") is True)
PRIVATE = sorted(set(FLAGS) - set(VISIBLE))
CONTEXT = {"context": {"targetingKey": "someone-else"}}


async def test_bulk_evaluates_exactly_the_client_visible_flags(
    client: httpx.AsyncClient, account: Account
) -> None:
    assert VISIBLE
    assert PRIVATE
    response = await client.post(BULK, json=CONTEXT, headers=bearer(account.access_token))
    assert response.status_code == 200, response.text
    flags = response.json()["flags"]
    assert sorted(flag["key"] for flag in flags) == VISIBLE
    for flag in flags:
        assert set(flag) == {"key", "value", "reason", "variant", "metadata"}
        assert flag["metadata"]["clientVisible"] is True
        assert flag["value"] == FLAGS[flag["key"]]["variants"][flag["variant"]]
    assert response.headers["etag"].startswith('"')


async def test_bulk_answers_304_to_its_own_etag_only(
    client: httpx.AsyncClient, account: Account
) -> None:
    headers = bearer(account.access_token)
    first = await client.post(BULK, json={}, headers=headers)
    etag = first.headers["etag"]
    again = await client.post(BULK, json={}, headers={**headers, "If-None-Match": etag})
    assert again.status_code == 304
    assert again.content == b""
    assert again.headers["etag"] == etag
    other = await client.post(BULK, json={}, headers={**headers, "If-None-Match": '"stale"'})
    assert other.status_code == 200
    assert other.json() == first.json()


async def test_one_visible_flag_has_the_single_flag_shape(
    client: httpx.AsyncClient, account: Account
) -> None:
    key = VISIBLE[0]
    response = await client.post(
        f"{BULK}/{key}", json=CONTEXT, headers=bearer(account.access_token)
    )
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["key"] == key
    assert {"value", "reason", "variant", "metadata"} <= set(body)


@pytest.mark.parametrize("key", [*PRIVATE, "no.such.flag"])
async def test_private_and_unknown_flags_are_404_flag_not_found(
    client: httpx.AsyncClient, account: Account, key: str
) -> None:
    response = await client.post(f"{BULK}/{key}", json={}, headers=bearer(account.access_token))
    body = assert_problem(response, 404)
    assert body["errorCode"] == "FLAG_NOT_FOUND"
    assert body["key"] == key
    assert "route." not in json.dumps(body).replace(key, "")


@pytest.mark.parametrize("body", [b"[]", b"{", b'{"context": "x"}'])
async def test_a_bad_context_is_400_invalid_context(
    client: httpx.AsyncClient, account: Account, body: bytes
) -> None:
    headers = {**bearer(account.access_token), "Content-Type": "application/json"}
    for path in (BULK, f"{BULK}/{VISIBLE[0]}"):
        response = await client.post(path, content=body, headers=headers)
        assert assert_problem(response, 400)["errorCode"] == "INVALID_CONTEXT"


@pytest.mark.parametrize("path", [BULK, f"{BULK}/{VISIBLE[0]}"])
async def test_without_credentials_it_is_401(client: httpx.AsyncClient, path: str) -> None:
    response = await client.post(path, json={})
    assert_problem(response, 401)
    assert response.headers["www-authenticate"].startswith("Bearer")
    bad = await client.post(path, json={}, headers=bearer("not-a-token"))
    assert_problem(bad, 401)


async def test_ofrep_is_in_the_merged_openapi_document(client: httpx.AsyncClient) -> None:
    paths = (await client.get("/api/v1/openapi.json")).json()["paths"]
    assert "post" in paths[BULK]
    assert "post" in paths[BULK + "/{key}"]


async def test_a_new_accounts_age_from_auth_reaches_the_rules(
    client: httpx.AsyncClient, account: Account
) -> None:
    tour = "web.onboarding-tour"
    assert tour in VISIBLE
    response = await client.post(f"{BULK}/{tour}", json={}, headers=bearer(account.access_token))
    assert response.status_code == 200, response.text
    assert (response.json()["value"], response.json()["variant"]) == (True, "on")
