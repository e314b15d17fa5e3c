"""Gateway-specific metrics, registered in the app's own registry next to the HTTP ones."""

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram

from shared.metrics import LATENCY_BUCKETS


class GatewayMetrics:
    def __init__(self, registry: CollectorRegistry) -> None:
        self.upstream_latency = Histogram(
            "gateway_upstream_duration_seconds",
            "Time from sending a request upstream to its response headers, by service.",
            ["service"],
            buckets=LATENCY_BUCKETS,
            registry=registry,
        )
        self.rate_limited = Counter(
            "gateway_rate_limited_total",
            "Requests refused with 429, by policy.",
            ["policy"],
            registry=registry,
        )
        self.auth_failures = Counter(
            "gateway_auth_failures_total",
            "Requests refused with 401, by reason.",
            ["reason"],
            registry=registry,
        )
        self.jwks_refreshes = Counter(
            "gateway_jwks_refreshes_total",
            "JWKS fetches from the auth service, by outcome.",
            ["outcome"],
            registry=registry,
        )
        self.circuit_open = Gauge(
            "gateway_circuit_open",
            "1 while the circuit breaker of an upstream replica is open (replica by index).",
            ["service", "replica"],
            registry=registry,
        )
        self.upstream_failures = Counter(
            "gateway_upstream_failures_total",
            "Failed upstream attempts, by service and kind (connect, timeout, protocol, status"
            " for a 5xx answer).",
            ["service", "kind"],
            registry=registry,
        )
        self.redis_fallback = Counter(
            "gateway_redis_fallback_total",
            "Requests whose limits and revocation came from memory because Redis was down.",
            registry=registry,
        )
        self.fallback_checks = Counter(
            "gateway_fallback_checks_total",
            "Revocation checks asked of auth while Redis was down, by kind (session, api_key)"
            " and outcome (active, inactive, cached, unreachable).",
            ["kind", "outcome"],
            registry=registry,
        )
