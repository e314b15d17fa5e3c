"""Metrics of the stable and canary pools, per upstream service with a canary configured."""

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram

from shared.metrics import LATENCY_BUCKETS


class PoolMetrics:
    def __init__(self, registry: CollectorRegistry) -> None:
        self.requests = Counter(
            "gateway_pool_requests_total",
            "Answers given from a pool (stable or canary), by service and pool.",
            ["service", "pool"],
            registry=registry,
        )
        self.errors = Counter(
            "gateway_pool_errors_total",
            "5xx answers given from a pool (the upstream's or the gateway's own 502-504).",
            ["service", "pool"],
            registry=registry,
        )
        self.latency = Histogram(
            "gateway_pool_duration_seconds",
            "Time from the pool decision to the response start, by service and pool.",
            ["service", "pool"],
            buckets=LATENCY_BUCKETS,
            registry=registry,
        )
        self.rolled_back = Gauge(
            "gateway_canary_rolled_back",
            "1 while a service's canary is rolled back (no traffic until its flag changes).",
            ["service"],
            registry=registry,
        )
        self.rollbacks = Counter(
            "gateway_canary_rollbacks_total",
            "Automatic canary rollbacks, by service.",
            ["service"],
            registry=registry,
        )
