"""Round-robin over replicas, skipping open circuits, with a half-open probe after cool-down."""

import pytest

from services.gateway.app.errors import UpstreamUnavailable
from services.gateway.app.upstreams import ReplicaPool


class Clock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def pool_of(count: int, clock: Clock) -> ReplicaPool:
    pool = ReplicaPool.of(
        "tasks", [f"http://r{i}" for i in range(count)], failure_threshold=2, cooldown_seconds=5
    )
    pool.clock = clock
    return pool


def test_round_robin_visits_every_replica_in_turn() -> None:
    pool = pool_of(3, Clock())
    assert [pool.choose().url for _ in range(4)] == [
        "http://r0",
        "http://r1",
        "http://r2",
        "http://r0",
    ]


def test_a_failing_replica_is_skipped_once_its_circuit_opens() -> None:
    clock = Clock()
    pool = pool_of(2, clock)
    changes: list[tuple[int, bool]] = []
    pool.on_state_change = lambda index, is_open: changes.append((index, is_open))
    bad = pool.replicas[0]
    pool.failed(bad)
    assert bad.available(clock.now)
    pool.failed(bad)
    assert [pool.choose().url for _ in range(3)] == ["http://r1"] * 3
    assert changes == [(0, True)]


def test_after_the_cool_down_one_probe_goes_through_and_success_closes_the_circuit() -> None:
    clock = Clock()
    pool = pool_of(1, clock)
    replica = pool.replicas[0]
    pool.failed(replica)
    pool.failed(replica)
    with pytest.raises(UpstreamUnavailable) as caught:
        pool.choose()
    assert caught.value.headers == {"Retry-After": "5"}
    clock.now += 5
    probe = pool.choose()
    with pytest.raises(UpstreamUnavailable):
        pool.choose()  # only one probe at a time
    pool.succeeded(probe)
    assert pool.choose() is replica
    assert not replica.is_open


def test_a_failed_probe_opens_the_circuit_for_another_cool_down() -> None:
    clock = Clock()
    pool = pool_of(1, clock)
    replica = pool.replicas[0]
    pool.failed(replica)
    pool.failed(replica)
    clock.now += 5
    pool.failed(pool.choose())
    clock.now += 4
    with pytest.raises(UpstreamUnavailable):
        pool.choose()
    clock.now += 1
    assert pool.choose() is replica


def test_excluded_replicas_are_not_chosen_again_for_a_retry() -> None:
    pool = pool_of(2, Clock())
    first = pool.choose()
    assert pool.choose(frozenset({first.index})) is not first
    with pytest.raises(UpstreamUnavailable):
        pool.choose(frozenset({0, 1}))
