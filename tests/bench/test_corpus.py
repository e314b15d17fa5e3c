import random

from bench.corpus import created_event_bytes, vocabulary
from shared.events import TaskEventType, decode_event, encode_event


def test_created_event_bytes_are_what_encode_event_writes() -> None:
    rng = random.Random(3)
    words = vocabulary()
    for _ in range(50):
        key, value = created_event_bytes(
            rng, words, owner_id="owner-1", stamp="2026-12-07T14:00:00.123456Z"
        )
        event = decode_event(value)
        assert encode_event(event) == value
        assert event.type is TaskEventType.created
        assert key == event.subject.encode() == event.data.id.encode()
        assert event.data.owner_id == "owner-1"
