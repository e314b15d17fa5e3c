"""The AsyncAPI 3.0 document of the task events topic, generated from ``shared.events``.

``python -m services.tasks.app.asyncapi > docs/asyncapi.json``; a unit test fails when the
checked-in file differs from what the models generate.
"""

import json
from typing import Any

from services.tasks.app.config import Settings
from shared.events import CLOUDEVENTS_CONTENT_TYPE, TaskCloudEvent, TaskEventType

SCHEMAS = "#/components/schemas/{model}"
KAFKA_BINDING_VERSION = "0.5.0"
DEFAULT_TOPIC: str = Settings.model_fields["task_events_topic"].default
DEFAULT_PARTITIONS: int = Settings.model_fields["topic_partitions"].default


def event_schemas() -> dict[str, Any]:
    """The CloudEvent model and everything it refers to, as AsyncAPI component schemas."""
    schema = TaskCloudEvent.model_json_schema(ref_template=SCHEMAS, mode="serialization")
    definitions: dict[str, Any] = schema.pop("$defs", {})
    return {TaskCloudEvent.__name__: schema, **definitions}


def message() -> dict[str, Any]:
    return {
        "name": "TaskEvent",
        "title": "A change of one task",
        "summary": "; ".join(event_type.value for event_type in TaskEventType),
        "description": (
            "CloudEvents 1.0, structured JSON. `data` is the task after the change with its "
            "`owner_id`; for a delete, its last state with `version` incremented. Delivery is "
            "at least once: consumers deduplicate by `data.version` per task."
        ),
        "contentType": CLOUDEVENTS_CONTENT_TYPE,
        "headers": {
            "type": "object",
            "required": ["content-type"],
            "properties": {
                "content-type": {"type": "string", "const": CLOUDEVENTS_CONTENT_TYPE},
                "traceparent": {"type": "string", "description": "W3C trace context."},
            },
        },
        "payload": {"$ref": SCHEMAS.format(model=TaskCloudEvent.__name__)},
        "bindings": {
            "kafka": {
                "key": {"type": "string", "description": "The task id."},
                "bindingVersion": KAFKA_BINDING_VERSION,
            }
        },
    }


def channel() -> dict[str, Any]:
    return {
        "address": DEFAULT_TOPIC,
        "title": "Task events",
        "description": (
            "Every change of every task, keyed by task id (so one task's events share a "
            "partition and keep `version` order). Compacted: replaying it from the start "
            "rebuilds any projection. The name is `KAFKA_TASK_EVENTS_TOPIC`."
        ),
        "messages": {"taskEvent": {"$ref": "#/components/messages/TaskEvent"}},
        "bindings": {
            "kafka": {
                "topic": DEFAULT_TOPIC,
                "partitions": DEFAULT_PARTITIONS,
                "topicConfiguration": {"cleanup.policy": ["compact"]},
                "bindingVersion": KAFKA_BINDING_VERSION,
            }
        },
    }


def asyncapi_document() -> dict[str, Any]:
    return {
        "asyncapi": "3.0.0",
        "info": {
            "title": "Taskstream task events",
            "version": "1.0.0",
            "description": "Published by the tasks service through its outbox relay.",
        },
        "defaultContentType": CLOUDEVENTS_CONTENT_TYPE,
        "servers": {
            "local": {
                "host": "127.0.0.1:9092",
                "protocol": "kafka",
                "description": "KAFKA_BOOTSTRAP_SERVERS",
            }
        },
        "channels": {"taskEvents": channel()},
        "operations": {
            "publishTaskEvents": {
                "action": "send",
                "summary": "The tasks service publishes one event per task change.",
                "channel": {"$ref": "#/channels/taskEvents"},
                "messages": [{"$ref": "#/channels/taskEvents/messages/taskEvent"}],
            }
        },
        "components": {"messages": {"TaskEvent": message()}, "schemas": event_schemas()},
    }


def render() -> str:
    return json.dumps(asyncapi_document(), indent=2, sort_keys=False) + "\n"


if __name__ == "__main__":
    print(render(), end="")
