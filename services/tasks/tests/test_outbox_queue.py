"""The relay's queue: handed-over events in write order, unless the outbox must be re-read."""

from services.tasks.app.outbox import OutboxQueue


def test_events_of_one_task_queue_in_order_and_wake_the_relay() -> None:
    queue = OutboxQueue()
    queue.add("a", {"version": 1})
    queue.add("a", {"version": 2})
    queue.add("b", {"version": 1})
    assert queue.ready.is_set()
    assert queue.take() == {"a": [{"version": 1}, {"version": 2}], "b": [{"version": 1}]}
    assert not queue.ready.is_set()
    assert queue.take() == {}


def test_once_a_task_must_be_reread_later_events_do_not_bypass_the_store() -> None:
    queue = OutboxQueue()
    queue.add("a", None)
    queue.add("a", {"version": 3})
    queue.add("b", {"version": 1})
    queue.reread(["b", "c"])
    assert queue.take() == {"a": None, "b": None, "c": None}
