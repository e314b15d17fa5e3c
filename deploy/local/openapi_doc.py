"""Write the gateway's merged OpenAPI document to ``web/openapi.json`` without a running stack.

The web app's API types are generated from that file (``npm run gen:api``). The document is
built the way the gateway builds it at run time: each service's own document (``create_app``
does no I/O, so ``app.openapi()`` needs no database), merged by the gateway's
``merge_documents``. ``--check`` fails when the committed file is stale (``make lint``).
"""

import os
import secrets
import sys
from pathlib import Path
from typing import Any

if __package__ in (None, ""):  # run as a script: make the repo importable
    sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

import orjson

REPO = Path(__file__).resolve().parents[2]
TARGET = REPO / "web" / "openapi.json"


def service_documents() -> dict[str, dict[str, Any]]:
    # Only building the apps: a throwaway secret satisfies the settings' validation.
    os.environ.setdefault("INTERNAL_SIGNING_SECRET", secrets.token_urlsafe(48))
    os.environ.setdefault("LOG_LEVEL", "WARNING")
    from services.auth.app.main import create_app as auth_app
    from services.search.app.main import create_app as search_app
    from services.tasks.app.main import create_app as tasks_app

    return {
        "auth": auth_app().openapi(),
        "tasks": tasks_app().openapi(),
        "search": search_app().openapi(),
    }


def merged_document() -> bytes:
    from services.gateway.app.openapi import merge_documents

    document = merge_documents(service_documents(), title="Taskstream API", version="1.0.0")
    return orjson.dumps(document, option=orjson.OPT_INDENT_2 | orjson.OPT_SORT_KEYS) + b"\n"


def main(argv: list[str]) -> int:
    document = merged_document()
    if "--check" in argv:
        if not TARGET.exists() or TARGET.read_bytes() != document:
            print(
                "web/openapi.json is stale: run `make web-api` and commit the result",
                file=sys.stderr,
            )
            return 1
        return 0
    TARGET.write_bytes(document)
    print(f"wrote {TARGET.relative_to(REPO)} ({len(document)} bytes)")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
