"""Replicas of one upstream service: round-robin with passive health and a circuit breaker.

Each replica counts consecutive failures (connection errors and timeouts). At the threshold
its circuit opens and it is skipped; after the cool-down one request is let through as a
probe (half-open): success closes the circuit, failure opens it for another cool-down.
"""

import math
import time
from collections.abc import Callable
from dataclasses import dataclass, field

from services.gateway.app.errors import UpstreamUnavailable

Clock = Callable[[], float]
StateListener = Callable[[int, bool], None]


@dataclass
class Replica:
    url: str
    index: int
    failure_threshold: int
    cooldown_seconds: float
    failures: int = 0
    open_until: float = 0.0
    probing: bool = False

    @property
    def is_open(self) -> bool:
        return self.failures >= self.failure_threshold

    def available(self, now: float) -> bool:
        if not self.is_open:
            return True
        return now >= self.open_until and not self.probing

    def acquire(self, now: float) -> None:
        """Called when chosen; a chosen open replica is the half-open probe."""
        if self.is_open and now >= self.open_until:
            self.probing = True

    def succeeded(self) -> None:
        self.failures, self.probing = 0, False

    def failed(self, now: float) -> None:
        self.failures += 1
        self.probing = False
        if self.is_open:
            self.open_until = now + self.cooldown_seconds


@dataclass
class ReplicaPool:
    service: str
    replicas: list[Replica]
    clock: Clock = time.monotonic
    on_state_change: StateListener = field(default=lambda index, is_open: None)
    _next: int = 0

    @classmethod
    def of(
        cls, service: str, urls: list[str], *, failure_threshold: int, cooldown_seconds: float
    ) -> "ReplicaPool":
        replicas = [
            Replica(url, index, failure_threshold, cooldown_seconds)
            for index, url in enumerate(urls)
        ]
        return cls(service, replicas)

    def choose(self, exclude: frozenset[int] = frozenset()) -> Replica:
        """The next available replica in round-robin order, or ``UpstreamUnavailable``."""
        now = self.clock()
        count = len(self.replicas)
        for step in range(count):
            replica = self.replicas[(self._next + step) % count]
            if replica.index not in exclude and replica.available(now):
                self._next = (replica.index + 1) % count
                replica.acquire(now)
                return replica
        raise UpstreamUnavailable(
            f"The {self.service} service is unavailable; try again shortly.",
            retry_after=self._retry_after(now),
        )

    def succeeded(self, replica: Replica) -> None:
        was_open = replica.is_open
        replica.succeeded()
        if was_open:
            self.on_state_change(replica.index, False)

    def failed(self, replica: Replica) -> None:
        was_open = replica.is_open
        replica.failed(self.clock())
        if replica.is_open and not was_open:
            self.on_state_change(replica.index, True)

    def release(self, replica: Replica) -> None:
        """A probe that ended without a verdict (e.g. the client went away) frees its slot."""
        replica.probing = False

    def _retry_after(self, now: float) -> int:
        waits = [r.open_until - now for r in self.replicas if r.is_open]
        return max(1, math.ceil(min(waits, default=1.0)))
