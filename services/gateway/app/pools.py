"""Stable and canary pools: which one serves a request, and what each one's answers were.

A service with ``GATEWAY_<SERVICE>_CANARY_URLS`` has a second replica pool. The flag
``route.<service>.canary`` (a fractional split on the targeting key) picks the pool per
request, keyed by the user id (anonymous requests: the client address), so a user stays on
one pool while the split is unchanged. Services without canary URLs skip all of this.
"""

import asyncio
import logging
import time
from collections.abc import AsyncIterator, Callable, Iterable
from contextlib import asynccontextmanager, suppress

from starlette.types import Message, Send

from services.gateway.app.canary import CANARY, STABLE, ServiceCanary, Thresholds
from services.gateway.app.client import UpstreamClient
from services.gateway.app.config import Settings
from services.gateway.app.metrics import GatewayMetrics
from services.gateway.app.pool_metrics import PoolMetrics
from services.gateway.app.upstreams import ReplicaPool, StateListener
from shared.flags import Flags, evaluation_context
from shared.identity import ANONYMOUS, Identity

log = logging.getLogger("taskstream.gateway.canary")
Clock = Callable[[], float]


def canary_urls(settings: Settings) -> dict[str, list[str]]:
    configured = {
        "auth": settings.auth_canary_urls,
        "tasks": settings.tasks_canary_urls,
        "search": settings.search_canary_urls,
    }
    return {service: urls for service, urls in configured.items() if urls}


def build_canary_pools(settings: Settings, metrics: GatewayMetrics) -> dict[str, ReplicaPool]:
    """One replica pool per service with canary URLs; its breakers report as ``canary-<n>``."""
    pools = {}
    for service, urls in canary_urls(settings).items():
        pool = ReplicaPool.of(
            service,
            urls,
            failure_threshold=settings.breaker_failure_threshold,
            cooldown_seconds=settings.breaker_cooldown_seconds,
        )
        pool.on_state_change = _canary_circuit_gauge(metrics, service)
        pools[service] = pool
    return pools


def _canary_circuit_gauge(metrics: GatewayMetrics, service: str) -> StateListener:
    def on_change(index: int, is_open: bool) -> None:
        metrics.circuit_open.labels(service, f"canary-{index}").set(1 if is_open else 0)

    return on_change


def thresholds(settings: Settings) -> Thresholds:
    return Thresholds(
        min_requests=settings.canary_min_requests,
        max_error_rate_increase=settings.canary_max_error_rate_increase,
        max_p99_ratio=settings.canary_max_p99_ratio,
        p99_slack_seconds=settings.canary_p99_slack_ms / 1000,
        failed_checks=settings.canary_failed_checks,
    )


class PoolRouter:
    """Chooses the pool of each proxied request and runs the canary analysis."""

    def __init__(
        self,
        *,
        stable: UpstreamClient,
        canary: UpstreamClient | None,
        services: Iterable[str],
        flags: Flags,
        metrics: PoolMetrics,
        limits: Thresholds,
        window_seconds: float,
        clock: Clock = time.monotonic,
    ) -> None:
        self.stable = stable
        self.canary = canary
        self.canaries = {service: ServiceCanary(service) for service in services}
        self._flags = flags
        self._metrics = metrics
        self._limits = limits
        self._window = window_seconds
        self._clock = clock
        for service in self.canaries:
            metrics.rolled_back.labels(service).set(0)

    def route(self, service: str, identity: Identity, send: Send) -> tuple[UpstreamClient, Send]:
        """The client of the chosen pool, and ``send`` wrapped to record the answer."""
        state = self.canaries.get(service)
        if state is None or self.canary is None:
            return self.stable, send
        pool = CANARY if self.wants_canary(state, identity) else STABLE
        return (self.canary if pool == CANARY else self.stable), self._observed(state, pool, send)

    def wants_canary(self, state: ServiceCanary, identity: Identity) -> bool:
        if state.rolled_back:
            return False
        anonymous = identity.user_id == ANONYMOUS
        key = (identity.client_ip or "unknown") if anonymous else identity.user_id
        details = self._flags.resolve_boolean(
            state.flag_key, False, evaluation_context(user_id=key)
        )
        return details.value is True

    def _observed(self, state: ServiceCanary, pool: str, send: Send) -> Send:
        started = self._clock()

        async def observed(message: Message) -> None:
            if message["type"] == "http.response.start":
                self.record(state, pool, status=message["status"], started=started)
            await send(message)

        return observed

    def record(self, state: ServiceCanary, pool: str, *, status: int, started: float) -> None:
        now = self._clock()
        error = status >= 500
        state.windows[pool].add(now, error=error, seconds=now - started)
        self._metrics.requests.labels(state.service, pool).inc()
        self._metrics.latency.labels(state.service, pool).observe(now - started)
        if error:
            self._metrics.errors.labels(state.service, pool).inc()

    def analyse(self) -> None:
        now = self._clock()
        for state in self.canaries.values():
            reason = state.analyse(now, window_seconds=self._window, limits=self._limits)
            if reason is not None:
                log.warning(
                    "canary of %s rolled back: %s; change flag %s to re-enable it",
                    state.service,
                    reason,
                    state.flag_key,
                    extra={"service_name": state.service, "rollback_reason": reason},
                )
                self._metrics.rolled_back.labels(state.service).set(1)
                self._metrics.rollbacks.labels(state.service).inc()

    def flags_changed(self, keys: frozenset[str]) -> None:
        for state in self.canaries.values():
            if state.flag_key in keys and state.reenable():
                log.info("canary of %s re-enabled: flag %s changed", state.service, state.flag_key)
                self._metrics.rolled_back.labels(state.service).set(0)

    @asynccontextmanager
    async def running(self, *, interval_seconds: float) -> AsyncIterator[None]:
        """The analysis loop and the flag-change listener, for the app's lifespan."""
        loop = asyncio.get_running_loop()

        def on_flags_changed(keys: frozenset[str]) -> None:
            # Reloads arrive on flagd's watcher thread; the state lives on the event loop.
            if not loop.is_closed():
                loop.call_soon_threadsafe(self.flags_changed, keys)

        self._flags.on_change(on_flags_changed)
        task = asyncio.create_task(self._analyse_every(interval_seconds))
        try:
            yield
        finally:
            task.cancel()
            with suppress(asyncio.CancelledError):
                await task

    async def _analyse_every(self, interval_seconds: float) -> None:
        while True:
            await asyncio.sleep(interval_seconds)
            self.analyse()
