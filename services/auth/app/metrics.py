"""Auth's own Prometheus metrics, next to the shared HTTP ones in the app's registry."""

from prometheus_client import CollectorRegistry, Counter, Histogram

HASH_BUCKETS = (0.01, 0.025, 0.05, 0.075, 0.1, 0.15, 0.25, 0.5, 1, 2.5)


class AuthMetrics:
    def __init__(self, registry: CollectorRegistry) -> None:
        self.logins = Counter(
            "auth_logins_total",
            "Login attempts by outcome: success, invalid, throttled, error.",
            ["outcome"],
            registry=registry,
        )
        self.login_floods = Counter(
            "auth_login_flood_failures_total",
            "Failed logins at an account that many addresses are failing at (each is slowed).",
            registry=registry,
        )
        self.refreshes = Counter(
            "auth_refreshes_total",
            "Refresh-token presentations by outcome: rotated, invalid, reuse_in_grace, theft.",
            ["outcome"],
            registry=registry,
        )
        self.social_signins = Counter(
            "auth_social_signins_total",
            "Social sign-in callbacks by provider and outcome: signed_in, created, linked, or"
            " the error code the browser was sent (invalid_state, invalid_token, ...).",
            ["provider", "outcome"],
            registry=registry,
        )
        self.password_hashing = Histogram(
            "auth_password_hashing_seconds",
            "argon2id hashing or verification, waiting for a hashing thread included.",
            buckets=HASH_BUCKETS,
            registry=registry,
        )
