"""Data for a running system that would take too long to write through the API.

Used by the browser tests and the web benchmark (a big account to scroll).
"""

import secrets
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
from pymongo import MongoClient

from deploy.local.system import System
from services.tasks.app.documents import derived_fields

# 10,000 would take FerretDB seconds per page here (the 10,000-row test serves its own pages).
SCALE_TASKS = 1_000


def scale_account(system: System) -> dict[str, str]:
    """An account holding ``SCALE_TASKS`` tasks, written straight into its database at once.

    Through the API that many writes take minutes here; the scroll test is about the list, so
    the documents are stored the way the tasks service stores them (``derived_fields`` included;
    no outbox events, so they are not searchable).
    """
    email = f"scale-{secrets.token_hex(4)}@example.test"
    password = f"Scale-{secrets.token_hex(8)}-pass"
    with httpx.Client(base_url=system.gateway_url, timeout=30) as client:
        client.post("/api/v1/auth/register", json={"email": email, "password": password})
        login = client.post("/api/v1/auth/login", json={"email": email, "password": password})
        token = login.json()["access_token"]
        owner = client.get("/api/v1/auth/me", headers={"Authorization": f"Bearer {token}"})
    start = datetime(2026, 1, 1, tzinfo=UTC)
    docs: list[dict[str, Any]] = []
    for n in range(1, SCALE_TASKS + 1):
        fields: dict[str, Any] = {"title": f"Bulk task {n:05}", "description": "", "status": "todo",
                  "priority": "medium", "tags": [], "due_date": None}  # fmt: skip
        at = start + timedelta(seconds=n)
        docs.append({"_id": secrets.token_hex(16), "owner_id": owner.json()["id"], **fields,
                     **derived_fields(fields), "created_at": at, "updated_at": at,
                     "version": 1, "deleted": False, "outbox_pending": False,
                     "pending_events": []})  # fmt: skip
    url = system.env["MONGODB_URL"]
    mongo: MongoClient[dict[str, Any]]
    with MongoClient(url, document_class=dict) as mongo:
        mongo[url.rsplit("/", 1)[1]]["tasks"].insert_many(docs, ordered=False)
    return {
        "E2E_SCALE_EMAIL": email,
        "E2E_SCALE_PASSWORD": password,
        "E2E_SCALE_TASKS": str(SCALE_TASKS),
    }
