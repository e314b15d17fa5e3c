"""Canary analysis: compare a service's canary pool with its stable pool, roll back on its own.

Every answer the gateway gives from a pool (the upstream's, or the gateway's own 502-504 for
it) is a sample: its time, whether it was a 5xx, and the seconds to its response start. Every
``interval`` the samples of the last ``window`` seconds are compared; when the canary has at
least ``min_requests`` and its error rate or p99 is worse than the stable pool's by more
than the thresholds, routing to it stops ("rolled back") and stays stopped until its
``route.<service>.canary`` flag changes in the flag file (the operator's re-enable).
"""

import math
from collections import deque
from dataclasses import dataclass, field

STABLE, CANARY = "stable", "canary"
POOLS = (STABLE, CANARY)
MAX_SAMPLES = 20_000  # per pool and window: bounds memory under any load


@dataclass(frozen=True, slots=True)
class Thresholds:
    min_requests: int
    max_error_rate_increase: float
    max_p99_ratio: float
    p99_slack_seconds: float


@dataclass(frozen=True, slots=True)
class PoolStats:
    requests: int
    errors: int
    p99_seconds: float

    @property
    def error_rate(self) -> float:
        return self.errors / self.requests if self.requests else 0.0


@dataclass
class PoolWindow:
    """The samples of one pool: (monotonic time, was a 5xx, seconds to response start)."""

    samples: deque[tuple[float, bool, float]] = field(
        default_factory=lambda: deque(maxlen=MAX_SAMPLES)
    )

    def add(self, at: float, *, error: bool, seconds: float) -> None:
        self.samples.append((at, error, seconds))

    def stats(self, since: float) -> PoolStats:
        while self.samples and self.samples[0][0] < since:
            self.samples.popleft()
        latencies = sorted(sample[2] for sample in self.samples)
        errors = sum(1 for sample in self.samples if sample[1])
        return PoolStats(len(latencies), errors, percentile(latencies, 0.99))

    def clear(self) -> None:
        self.samples.clear()


def percentile(ordered: list[float], fraction: float) -> float:
    """Nearest-rank percentile of an ascending list (0.0 when empty)."""
    if not ordered:
        return 0.0
    rank = max(1, math.ceil(fraction * len(ordered)))
    return ordered[rank - 1]


def rollback_reason(stable: PoolStats, canary: PoolStats, limits: Thresholds) -> str | None:
    """Why the canary must stop receiving traffic, or ``None`` while it is no worse."""
    if canary.requests < limits.min_requests:
        return None
    if canary.error_rate - stable.error_rate > limits.max_error_rate_increase:
        return (
            f"error rate {canary.error_rate:.1%} over {canary.requests} requests against "
            f"{stable.error_rate:.1%} on the stable pool"
        )
    allowed_p99 = stable.p99_seconds * limits.max_p99_ratio + limits.p99_slack_seconds
    if stable.requests >= limits.min_requests and canary.p99_seconds > allowed_p99:
        return (
            f"p99 {canary.p99_seconds * 1000:.0f} ms against {stable.p99_seconds * 1000:.0f} ms"
            f" on the stable pool (allowed {allowed_p99 * 1000:.0f} ms)"
        )
    return None


@dataclass
class ServiceCanary:
    """The canary state of one upstream service."""

    service: str
    rolled_back: bool = False
    windows: dict[str, PoolWindow] = field(
        default_factory=lambda: {pool: PoolWindow() for pool in POOLS}
    )

    @property
    def flag_key(self) -> str:
        return f"route.{self.service}.canary"

    def analyse(self, now: float, *, window_seconds: float, limits: Thresholds) -> str | None:
        """Roll back when the canary is worse; returns the reason when it just did."""
        if self.rolled_back:
            return None
        since = now - window_seconds
        stable = self.windows[STABLE].stats(since)
        reason = rollback_reason(stable, self.windows[CANARY].stats(since), limits)
        if reason is not None:
            self.rolled_back = True
            self.reset_windows()
        return reason

    def reenable(self) -> bool:
        """The operator changed the flag: route to the canary again (True if it was off)."""
        was_off = self.rolled_back
        self.rolled_back = False
        self.reset_windows()
        return was_off

    def reset_windows(self) -> None:
        for window in self.windows.values():
            window.clear()
