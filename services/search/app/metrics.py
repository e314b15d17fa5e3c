"""Prometheus metrics of the projection: lag, applied/skipped events, commit timings."""

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram

COMMIT_BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.02, 0.05, 0.1, 0.25, 0.5, 1, 2.5)
VISIBILITY_BUCKETS = (
    0.0025,
    0.005,
    0.0075,
    0.01,
    0.015,
    0.02,
    0.03,
    0.05,
    0.075,
    0.1,
    0.15,
    0.25,
    0.5,
    1,
    2.5,
    5,
)


class ProjectionMetrics:
    def __init__(self, registry: CollectorRegistry) -> None:
        self.lag = Gauge(
            "search_consumer_lag",
            "Events on the topic not yet committed to the index, by partition.",
            ["partition"],
            registry=registry,
        )
        self.applied = Counter(
            "search_events_applied", "Events that changed the index.", registry=registry
        )
        self.skipped = Counter(
            "search_events_skipped",
            "Events left out: not newer than the indexed version, or unreadable.",
            ["reason"],
            registry=registry,
        )
        self.commit_seconds = Histogram(
            "search_commit_duration_seconds",
            "Index commit plus reader reload.",
            buckets=COMMIT_BUCKETS,
            registry=registry,
        )
        self.event_to_searchable = Histogram(
            "search_event_to_searchable_seconds",
            "From the CloudEvent time to the commit that makes it visible (live events only).",
            buckets=VISIBILITY_BUCKETS,
            registry=registry,
        )
        # Named apart from the one above on purpose: tools look that one up by "searchable".
        self.kafka_to_visible = Histogram(
            "search_kafka_to_visible_seconds",
            "From the Kafka record timestamp to the commit that makes it visible (live only):"
            " the part of event-to-searchable this service is responsible for.",
            buckets=VISIBILITY_BUCKETS,
            registry=registry,
        )
        self.invalidation_failures = Counter(
            "search_cache_invalidation_failures",
            "Cache version bumps that failed (retried until Redis answers).",
            registry=registry,
        )
