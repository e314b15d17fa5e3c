"""The one check of an error answer: RFC 9457 problem details, as the contract describes them.

Every error body is ``application/problem+json`` with ``type``, ``title``, ``status``,
``detail`` and ``request_id``, and no stack trace. Checks a test needs beyond that shape (the
detail's wording, a ``Retry-After``, the ``errors`` list) stay in the test.
"""

from typing import Any

import httpx

PROBLEM_CONTENT_TYPE = "application/problem+json"


def assert_problem(response: httpx.Response, *statuses: int) -> dict[str, Any]:
    """Assert ``response`` is a problem with one of ``statuses``; return its body."""
    assert statuses, "name the status (or statuses) the problem may have"
    assert response.status_code in statuses, (response.status_code, response.text[:500])
    content_type = response.headers.get("content-type")
    assert content_type == PROBLEM_CONTENT_TYPE, (content_type, response.text[:500])
    body = response.json()
    assert isinstance(body, dict), body
    assert body.get("status") == response.status_code, body
    for field in ("type", "title", "detail", "request_id"):
        assert isinstance(body.get(field), str), (field, body)
    assert body["title"], body
    if "x-request-id" in response.headers:
        assert body["request_id"] == response.headers["x-request-id"], body
    assert "Traceback" not in response.text, response.text[:500]
    problem: dict[str, Any] = body
    return problem
