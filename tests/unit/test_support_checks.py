"""tests/support's checks must be able to fail: the strict assert_problem and the pollers."""

import httpx
import pytest

from tests.support.polling import Observation, eventually, eventually_sync
from tests.support.problems import assert_problem

PROBLEM = {
    "type": "about:blank",
    "title": "Not Found",
    "status": 404,
    "detail": "No such task.",
    "request_id": "req-1",
}


def answer(
    status: int = 404,
    body: object = PROBLEM,
    content_type: str = "application/problem+json",
    request_id: str = "req-1",
) -> httpx.Response:
    headers = {"content-type": content_type, "x-request-id": request_id}
    return httpx.Response(status, json=body, headers=headers)


def test_a_problem_of_an_expected_status_passes_and_gives_its_body() -> None:
    assert assert_problem(answer(), 404) == PROBLEM
    assert assert_problem(answer(), 400, 404)["detail"] == "No such task."


@pytest.mark.parametrize(
    "response",
    [
        answer(status=409, body={**PROBLEM, "status": 409}),
        answer(content_type="application/json"),
        answer(content_type="application/problem+json; charset=utf-8"),
        answer(body={**PROBLEM, "status": 400}),
        answer(body={k: v for k, v in PROBLEM.items() if k != "title"}),
        answer(body={k: v for k, v in PROBLEM.items() if k != "detail"}),
        answer(body={k: v for k, v in PROBLEM.items() if k != "type"}),
        answer(body={k: v for k, v in PROBLEM.items() if k != "request_id"}),
        answer(body={**PROBLEM, "title": ""}),
        answer(request_id="req-2"),
        answer(body={**PROBLEM, "detail": "Traceback (most recent call last):"}),
        answer(body=["not", "an", "object"]),
    ],
    ids=[
        "other-status",
        "plain-json",
        "media-type-parameters",
        "body-status-differs",
        "no-title",
        "no-detail",
        "no-type",
        "no-request-id",
        "empty-title",
        "request-id-differs",
        "stack-trace",
        "not-an-object",
    ],
)
def test_anything_short_of_a_contract_problem_fails(response: httpx.Response) -> None:
    with pytest.raises(AssertionError):
        assert_problem(response, 404)


def test_a_status_must_be_named() -> None:
    with pytest.raises(AssertionError):
        assert_problem(answer())


async def test_eventually_returns_once_the_probe_is_done() -> None:
    calls: list[int] = []

    async def third_time() -> Observation:
        calls.append(1)
        return len(calls) >= 3, len(calls)

    assert await eventually(third_time, within=5.0, interval=0.001) >= 0.0
    assert len(calls) == 3


async def test_eventually_fails_with_what_it_last_saw() -> None:
    async def never() -> Observation:
        return False, "still 7 open"

    with pytest.raises(AssertionError, match="still 7 open"):
        await eventually(never, within=0.05, interval=0.01)


def test_eventually_sync_takes_plain_conditions_and_fails_in_time() -> None:
    calls: list[int] = []

    def second_time() -> bool:
        calls.append(1)
        return len(calls) == 2

    assert eventually_sync(second_time, within=5.0, interval=0.001) >= 0.0
    assert len(calls) == 2
    with pytest.raises(AssertionError, match=r"within 0\.05s"):
        eventually_sync(lambda: False, within=0.05, interval=0.01)
