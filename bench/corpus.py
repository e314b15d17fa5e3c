"""Synthetic task text: a fixed vocabulary of pronounceable words, and queries over it.

Deterministic (seeded), so every run indexes and searches the same text.
"""

import random
import uuid
from datetime import UTC, datetime

import orjson

from shared.events import TaskCloudEvent, TaskEventType, TaskPriority, TaskSnapshot, TaskStatus

SYLLABLES = ("ka", "lo", "mi", "ne", "ru", "sa", "ti", "vo", "zen", "dar", "pel", "mor", "qui")
TAGS = tuple(f"tag{number}" for number in range(30))
# Every backlog task's title carries this word, so a search for it counts the whole backlog.
BACKLOG_MARKER = "backlogmarker"
STATUSES = tuple(status.value for status in TaskStatus)
PRIORITIES = tuple(priority.value for priority in TaskPriority)


def vocabulary(size: int = 3000, seed: int = 7) -> list[str]:
    rng = random.Random(seed)
    words: set[str] = set()
    while len(words) < size:
        words.add("".join(rng.choice(SYLLABLES) for _ in range(rng.randint(2, 4))))
    return sorted(words)


def backlog_event(rng: random.Random, words: list[str], owner_id: str) -> TaskCloudEvent:
    now = datetime.now(UTC)
    task_id = str(uuid.UUID(int=rng.getrandbits(128)))
    snapshot = TaskSnapshot(
        id=task_id,
        owner_id=owner_id,
        title=" ".join([BACKLOG_MARKER, *rng.sample(words, 4)]),
        description=" ".join(rng.choices(words, k=rng.randint(15, 40))),
        status=rng.choice(list(TaskStatus)),
        priority=rng.choice(list(TaskPriority)),
        tags=rng.sample(TAGS, rng.randint(0, 3)),
        created_at=now,
        updated_at=now,
        version=1,
    )
    return TaskCloudEvent(
        id=str(uuid.uuid4()),
        type=TaskEventType.created,
        subject=task_id,
        time=now,
        data=snapshot,
    )


def created_event_bytes(
    rng: random.Random, words: list[str], *, owner_id: str, stamp: str
) -> tuple[bytes, bytes]:
    """Key and value of a created-event as ``encode_event`` writes it, built as a plain dict:
    a million pydantic models would make the producer, not the replica, the bottleneck."""
    task_id = str(uuid.UUID(int=rng.getrandbits(128)))
    snapshot = {
        "id": task_id,
        "owner_id": owner_id,
        "title": " ".join([BACKLOG_MARKER, *rng.sample(words, 4)]),
        "description": " ".join(rng.choices(words, k=rng.randint(15, 40))),
        "status": rng.choice(STATUSES),
        "priority": rng.choice(PRIORITIES),
        "tags": rng.sample(TAGS, rng.randint(0, 3)),
        "due_date": None,
        "created_at": stamp,
        "updated_at": stamp,
        "version": 1,
    }
    event = {
        "specversion": "1.0",
        "id": str(uuid.UUID(int=rng.getrandbits(128))),
        "source": "/taskstream/tasks",
        "type": TaskEventType.created.value,
        "subject": task_id,
        "time": stamp,
        "datacontenttype": "application/json",
        "data": snapshot,
    }
    return task_id.encode(), orjson.dumps(event)


def _typo(word: str, rng: random.Random) -> str:
    position = rng.randrange(1, len(word))
    return word[:position] + word[position + 1 :]


def queries(count: int, seed: int) -> list[str]:
    """Distinct queries as people type them: words, typos, prefixes and two-word phrases."""
    rng = random.Random(seed)
    words = vocabulary()
    shapes = (
        lambda: rng.choice(words),
        lambda: _typo(rng.choice([w for w in words if len(w) >= 5]), rng),
        lambda: rng.choice(words)[:3],
        lambda: f"{rng.choice(words)} {rng.choice(words)[:4]}",
    )
    found: dict[str, None] = {}
    while len(found) < count:
        found[rng.choice(shapes)()] = None
    return list(found)
