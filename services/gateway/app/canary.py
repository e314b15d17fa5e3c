"""Canary analysis: compare a service's canary pool with its stable pool, roll back on its own.

Every answer the gateway gives from a pool (the upstream's, or the gateway's own 502-504 for
it) is a sample: its time, whether it was a 5xx, and the seconds to its response start. Every
``interval`` a check runs once the canary has ``min_requests`` new samples (at most
``window`` seconds old): its error rate and p99 against the stable pool's over as many of the
stable pool's latest samples (equal counts, so one p99 is not a maximum and the other not).
Each check looks at new samples only. After ``failed_checks`` failing checks in a row (as
Flagger counts them) routing to the canary stops ("rolled back") and stays stopped until its
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
    failed_checks: int = 3


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

    def forget_before(self, since: float) -> int:
        while self.samples and self.samples[0][0] < since:
            self.samples.popleft()
        return len(self.samples)

    def stats(self, last: int | None = None) -> PoolStats:
        """Error count and p99 of the latest ``last`` samples (all by default)."""
        samples = list(self.samples)[-last:] if last else list(self.samples)
        latencies = sorted(sample[2] for sample in samples)
        errors = sum(1 for sample in samples if sample[1])
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
    failing_checks: int = 0
    windows: dict[str, PoolWindow] = field(
        default_factory=lambda: {pool: PoolWindow() for pool in POOLS}
    )

    @property
    def flag_key(self) -> str:
        return f"route.{self.service}.canary"

    def analyse(self, now: float, *, window_seconds: float, limits: Thresholds) -> str | None:
        """One check, if the canary has enough new answers; the reason when it rolled back."""
        since = now - window_seconds
        self.windows[STABLE].forget_before(since)
        count = self.windows[CANARY].forget_before(since)
        if self.rolled_back or count < limits.min_requests:
            return None
        canary = self.windows[CANARY].stats()
        reason = rollback_reason(self.windows[STABLE].stats(last=count), canary, limits)
        self.reset_windows()
        self.failing_checks = self.failing_checks + 1 if reason else 0
        if reason is None or self.failing_checks < limits.failed_checks:
            return None
        self.rolled_back = True
        return f"{reason} ({self.failing_checks} checks in a row)"

    def reenable(self) -> bool:
        """The operator changed the flag: route to the canary again (True if it was off)."""
        was_off = self.rolled_back
        self.rolled_back = False
        self.failing_checks = 0
        self.reset_windows()
        return was_off

    def reset_windows(self) -> None:
        for window in self.windows.values():
            window.clear()
