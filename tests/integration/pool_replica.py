"""A stand-in upstream replica for the canary tests: it records who it served, and can fail.

Run as ``python -m tests.integration.pool_replica PORT FAIL_PERCENT``. Every request is
answered 200 except ``FAIL_PERCENT`` % of them, spread evenly (500 problem+json), so a
"bad canary" fails exactly that share. ``GET /_served`` returns ``{user id: requests}`` from
the identity the gateway signed (read, not verified: this process stands in for a service
release under test, the gateway is what is being tested). It exists only for tests: no
service carries a switch that makes it fail on purpose.
"""

import base64
import itertools
import json
import sys
from collections import Counter

from aiohttp import web

PROBLEM = {"type": "about:blank", "title": "Internal Server Error", "status": 500, "detail": "x"}


def user_of(header: str | None) -> str:
    if not header or "." not in header:
        return "-"
    payload = header.split(".", 1)[0]
    claims = json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))
    return str(claims.get("user_id", "-"))


def make_app(fail_percent: int) -> web.Application:
    served: Counter[str] = Counter()
    sequence = itertools.count()

    async def served_by_user(_: web.Request) -> web.Response:
        return web.json_response(dict(served))

    async def plain(_: web.Request) -> web.Response:
        return web.json_response({"openapi": "3.1.0", "paths": {}, "status": "ok"})

    async def answer(request: web.Request) -> web.Response:
        served[user_of(request.headers.get("x-taskstream-identity"))] += 1
        if next(sequence) % 10 * 10 < fail_percent:
            return web.json_response(PROBLEM, status=500, content_type="application/problem+json")
        return web.json_response({"items": [], "next_cursor": None})

    app = web.Application()
    app.router.add_get("/_served", served_by_user)
    for path in ("/health", "/ready", "/openapi.json"):
        app.router.add_get(path, plain)
    app.router.add_route("*", "/{tail:.*}", answer)
    return app


if __name__ == "__main__":
    web.run_app(make_app(int(sys.argv[2])), host="127.0.0.1", port=int(sys.argv[1]), print=None)
