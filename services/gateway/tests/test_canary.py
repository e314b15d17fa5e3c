"""Canary analysis and pool choice: pure parts, with a fake clock and a real flag file."""

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any, cast

import pytest
from prometheus_client import CollectorRegistry
from starlette.types import Message

from services.gateway.app.canary import (
    CANARY,
    STABLE,
    PoolStats,
    PoolWindow,
    ServiceCanary,
    Thresholds,
    percentile,
    rollback_reason,
)
from services.gateway.app.client import UpstreamClient
from services.gateway.app.pool_metrics import PoolMetrics
from services.gateway.app.pools import PoolRouter
from shared.flags import Flags
from shared.identity import ANONYMOUS, Identity

LIMITS = Thresholds(
    min_requests=50, max_error_rate_increase=0.05, max_p99_ratio=1.5, p99_slack_seconds=0.05
)


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def test_percentile_is_nearest_rank() -> None:
    assert percentile([], 0.99) == 0.0
    assert percentile([float(i) for i in range(1, 101)], 0.99) == 99.0
    assert percentile([5.0], 0.99) == 5.0


def test_no_verdict_below_the_minimum_number_of_canary_requests() -> None:
    stable = PoolStats(1000, 0, 0.01)
    assert rollback_reason(stable, PoolStats(49, 49, 9.0), LIMITS) is None


def test_an_error_rate_above_the_stable_one_plus_the_margin_rolls_back() -> None:
    stable = PoolStats(1000, 10, 0.01)
    assert rollback_reason(stable, PoolStats(100, 5, 0.01), LIMITS) is None
    reason = rollback_reason(stable, PoolStats(100, 30, 0.01), LIMITS)
    assert reason is not None
    assert "error rate 30.0%" in reason


def test_a_slow_canary_rolls_back_only_against_enough_stable_requests() -> None:
    slow = PoolStats(100, 0, 0.5)
    assert rollback_reason(PoolStats(100, 0, 0.1), PoolStats(100, 0, 0.19), LIMITS) is None
    reason = rollback_reason(PoolStats(100, 0, 0.1), slow, LIMITS)
    assert reason is not None
    assert "p99 500 ms" in reason
    assert rollback_reason(PoolStats(10, 0, 0.1), slow, LIMITS) is None


def test_window_forgets_old_samples_and_can_take_the_latest_few() -> None:
    window = PoolWindow()
    window.add(1.0, error=True, seconds=0.1)
    for at in (5.0, 6.0, 7.0):
        window.add(at, error=False, seconds=at / 10)
    assert window.forget_before(2.0) == 3
    assert window.stats() == PoolStats(3, 0, 0.7)
    assert window.stats(last=2) == PoolStats(2, 0, 0.7)


def fill(state: ServiceCanary, at: float, *, canary_error: bool, count: int = 60) -> None:
    for _ in range(count):
        state.windows[CANARY].add(at, error=canary_error, seconds=0.01)
        state.windows[STABLE].add(at, error=False, seconds=0.01)


def test_rollback_needs_failed_checks_in_a_row_then_stays_until_reenabled() -> None:
    state = ServiceCanary("tasks")
    fill(state, 10.0, canary_error=True)
    assert state.analyse(11.0, window_seconds=60, limits=LIMITS) is None
    fill(state, 12.0, canary_error=False)
    assert state.analyse(13.0, window_seconds=60, limits=LIMITS) is None  # a pass resets
    for second in (14.0, 16.0):
        fill(state, second, canary_error=True)
        assert state.analyse(second + 1, window_seconds=60, limits=LIMITS) is None
    fill(state, 18.0, canary_error=True)
    reason = state.analyse(19.0, window_seconds=60, limits=LIMITS)
    assert reason is not None
    assert "3 checks in a row" in reason
    assert state.rolled_back
    fill(state, 20.0, canary_error=True)
    assert state.analyse(21.0, window_seconds=60, limits=LIMITS) is None
    assert state.reenable()
    assert not state.rolled_back
    assert not state.reenable()


def test_a_check_waits_for_enough_new_canary_answers() -> None:
    state = ServiceCanary("tasks")
    fill(state, 10.0, canary_error=True, count=30)
    assert state.analyse(11.0, window_seconds=60, limits=LIMITS) is None
    assert state.failing_checks == 0
    fill(state, 12.0, canary_error=True, count=30)
    state.analyse(13.0, window_seconds=60, limits=LIMITS)
    assert state.failing_checks == 1


def split_file(tmp_path: Path, percent: int) -> str:
    path = tmp_path / "flags.json"
    fractional = [["canary", percent], ["stable", 100 - percent]]
    flag = {
        "state": "ENABLED",
        "variants": {"canary": True, "stable": False},
        "defaultVariant": "stable",
        "targeting": {"fractional": fractional},
    }
    path.write_text(json.dumps({"flags": {"route.tasks.canary": flag}}))
    return str(path)


@pytest.fixture
def half_split(tmp_path: Path) -> Iterator[Flags]:
    flags = Flags(split_file(tmp_path, 50), poll_ms=1000, domain=f"canary-{tmp_path.name}")
    flags.start()
    yield flags
    flags.close()


def router(flags: Flags, clock: Clock) -> tuple[PoolRouter, Any, Any]:
    stable, canary = cast(UpstreamClient, object()), cast(UpstreamClient, object())
    pools = PoolRouter(
        stable=stable,
        canary=canary,
        services=["tasks"],
        flags=flags,
        metrics=PoolMetrics(CollectorRegistry()),
        limits=LIMITS,
        window_seconds=60,
        clock=clock,
    )
    return pools, stable, canary


async def no_send(message: Message) -> None:
    return None


def user(user_id: str, client_ip: str = "192.0.2.1") -> Identity:
    return Identity(user_id=user_id, via="jwt", client_ip=client_ip)


def test_a_user_stays_on_one_pool_and_services_without_canary_skip_it(half_split: Flags) -> None:
    pools, stable, canary = router(half_split, Clock())
    chosen = {f"u{i}": pools.route("tasks", user(f"u{i}"), no_send)[0] for i in range(200)}
    assert 60 < sum(client is canary for client in chosen.values()) < 140
    for user_id, client in chosen.items():
        assert all(pools.route("tasks", user(user_id), no_send)[0] is client for _ in range(5))
    assert pools.route("search", user("u1"), no_send) == (stable, no_send)


def test_anonymous_requests_are_keyed_by_client_address(half_split: Flags) -> None:
    pools, _, _ = router(half_split, Clock())
    addresses = [f"198.51.100.{i}" for i in range(100)]
    picks = [pools.route("tasks", user(ANONYMOUS, ip), no_send)[0] for ip in addresses]
    assert len(set(map(id, picks))) == 2
    again = [pools.route("tasks", user(ANONYMOUS, ip), no_send)[0] for ip in addresses]
    assert picks == again


async def test_failing_canary_is_rolled_back_and_reenabled_by_a_flag_change(
    half_split: Flags,
) -> None:
    clock = Clock()
    pools, stable, canary = router(half_split, clock)
    statuses = {id(stable): 200, id(canary): 500}
    for _ in range(LIMITS.failed_checks):
        for i in range(200):
            client, send = pools.route("tasks", user(f"u{i}"), no_send)
            clock.now += 0.001
            await send({"type": "http.response.start", "status": statuses[id(client)]})
        pools.analyse()
    assert pools.canaries["tasks"].rolled_back
    assert all(pools.route("tasks", user(f"u{i}"), no_send)[0] is stable for i in range(100))
    pools.flags_changed(frozenset({"route.search.canary"}))
    assert pools.canaries["tasks"].rolled_back
    pools.flags_changed(frozenset({"route.tasks.canary"}))
    assert any(pools.route("tasks", user(f"u{i}"), no_send)[0] is canary for i in range(100))
