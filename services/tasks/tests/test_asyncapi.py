"""The checked-in AsyncAPI document is current, well-formed and describes what we publish."""

import json
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from services.tasks.app.asyncapi import asyncapi_document, render
from shared.events import TaskCloudEvent, TaskEventType, TaskSnapshot, encode_event

CHECKED_IN = Path(__file__).resolve().parents[3] / "docs" / "asyncapi.json"


def resolve(document: dict[str, Any], ref: str) -> Any:
    assert ref.startswith("#/"), ref
    node: Any = document
    for part in ref[2:].split("/"):
        assert part in node, f"unresolvable $ref {ref}"
        node = node[part]
    return node


def refs(node: Any) -> list[str]:
    if isinstance(node, dict):
        own = [node["$ref"]] if isinstance(node.get("$ref"), str) else []
        return own + [ref for value in node.values() for ref in refs(value)]
    if isinstance(node, list):
        return [ref for item in node for ref in refs(item)]
    return []


def sample_event() -> dict[str, Any]:
    at = datetime(2030, 1, 2, 3, 4, 5, tzinfo=UTC)
    snapshot = TaskSnapshot(
        id="t1", owner_id="u1", title="x", status="todo", priority="low",
        created_at=at, updated_at=at, version=1,
    )  # fmt: skip
    event = TaskCloudEvent(
        id="e1", type=TaskEventType.created, subject="t1", time=at, data=snapshot
    )
    loaded: dict[str, Any] = json.loads(encode_event(event))
    return loaded


def test_checked_in_document_is_current() -> None:
    assert CHECKED_IN.read_text() == render(), (
        "docs/asyncapi.json is stale: run "
        "`.venv/bin/python -m services.tasks.app.asyncapi > docs/asyncapi.json`"
    )


def test_document_has_the_required_asyncapi_3_structure() -> None:
    document = json.loads(CHECKED_IN.read_text())
    assert document["asyncapi"] == "3.0.0"
    assert document["info"]["title"]
    assert document["info"]["version"]
    for channel in document["channels"].values():
        assert channel["address"]
        assert channel["messages"]
    for operation in document["operations"].values():
        assert operation["action"] in {"send", "receive"}
        channel_ref = operation["channel"]["$ref"]
        assert channel_ref.startswith("#/channels/")
        # AsyncAPI 3: an operation's messages must be messages of its channel.
        for message in operation["messages"]:
            assert message["$ref"].startswith(channel_ref + "/messages/")
    for ref in refs(document):
        resolve(document, ref)


def test_payload_schema_describes_a_published_event() -> None:
    document = asyncapi_document()
    message = resolve(document, "#/components/messages/TaskEvent")
    payload = resolve(document, message["payload"]["$ref"])
    event = sample_event()
    assert set(payload["required"]) <= set(event)
    assert set(event) <= set(payload["properties"])
    event_types = resolve(document, payload["properties"]["type"]["$ref"])
    assert set(event_types["enum"]) == {event_type.value for event_type in TaskEventType}
    data = resolve(document, payload["properties"]["data"]["$ref"])
    assert set(data["required"]) <= set(event["data"])
    assert "owner_id" in data["properties"]
