"""While Redis is down, revocation comes from auth: the decision, with auth faked at its call."""

import pytest
from prometheus_client import CollectorRegistry
from redis.exceptions import ConnectionError as RedisConnectionError

from services.gateway.app.client import parse_session_check
from services.gateway.app.errors import BadUpstream, NotAuthenticated, RevocationUnverifiable
from services.gateway.app.failures import InvalidCredentialThrottle
from services.gateway.app.fallback import FallbackRevocation
from services.gateway.app.guard import Credentials, Verdict
from services.gateway.app.metrics import GatewayMetrics
from services.gateway.app.ratelimit import Decision, Policy
from services.gateway.app.service import ApiKeyCache, Gatekeeper, ResolvedKey
from services.gateway.app.tokens import AccessClaims

TOKEN = Credentials(subject="user:u1", token_id="j1", session_id="s1", user_id="u1", issued_at=100)
KEY = Credentials(subject="user:u1", api_key_id="k1")
POLICY = Policy("user", rate_per_second=1, burst=2)


class FakeAuth:
    """Auth's answers at the gateway's call boundary: active, inactive, or unreachable."""

    def __init__(self) -> None:
        self.active = True
        self.down = False
        self.calls = 0

    async def check_session(self, credentials: Credentials) -> bool:
        return await self._answer()

    async def key_resolves(self, key: str) -> bool:
        return await self._answer()

    async def _answer(self) -> bool:
        self.calls += 1
        if self.down:
            raise BadUpstream("The auth service could not be reached.")
        return self.active


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def auth() -> FakeAuth:
    return FakeAuth()


@pytest.fixture
def metrics() -> GatewayMetrics:
    return GatewayMetrics(CollectorRegistry())


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def checks(auth: FakeAuth, metrics: GatewayMetrics, clock: Clock) -> FallbackRevocation:
    return FallbackRevocation(auth.check_session, auth.key_resolves, metrics, clock=clock)


def outcomes(metrics: GatewayMetrics, kind: str, outcome: str) -> float:
    value: float = metrics.fallback_checks.labels(kind, outcome)._value.get()
    return value


async def test_an_active_session_is_served_and_asked_again_after_five_seconds(
    auth: FakeAuth, checks: FallbackRevocation, metrics: GatewayMetrics, clock: Clock
) -> None:
    assert await checks.revoked(TOKEN) is None
    assert await checks.revoked(TOKEN) is None
    assert auth.calls == 1
    clock.now += 6
    auth.active = False
    assert await checks.revoked(TOKEN) == "session_revoked"
    assert auth.calls == 2
    assert outcomes(metrics, "session", "cached") == 1
    assert outcomes(metrics, "session", "inactive") == 1


async def test_a_revoked_session_stays_refused_without_asking_again(
    auth: FakeAuth, checks: FallbackRevocation, clock: Clock
) -> None:
    auth.active = False
    assert await checks.revoked(TOKEN) == "session_revoked"
    auth.down = True
    clock.now += 14 * 60
    assert await checks.revoked(TOKEN) == "session_revoked"
    assert auth.calls == 1


async def test_auth_unreachable_too_fails_closed_with_retry_after(
    auth: FakeAuth, checks: FallbackRevocation, metrics: GatewayMetrics
) -> None:
    auth.down = True
    with pytest.raises(RevocationUnverifiable) as refused:
        await checks.revoked(TOKEN)
    assert refused.value.headers["Retry-After"] == "5"
    assert outcomes(metrics, "session", "unreachable") == 1


async def test_a_session_verified_moments_ago_survives_auth_going_down_briefly(
    auth: FakeAuth, checks: FallbackRevocation, clock: Clock
) -> None:
    assert await checks.revoked(TOKEN) is None
    auth.down = True
    clock.now += 4
    assert await checks.revoked(TOKEN) is None
    clock.now += 2
    with pytest.raises(RevocationUnverifiable):
        await checks.revoked(TOKEN)


async def test_api_keys_are_rechecked_and_a_deleted_one_refused(
    auth: FakeAuth, checks: FallbackRevocation, metrics: GatewayMetrics
) -> None:
    assert await checks.revoked(KEY, api_key="ts_live_x") is None
    auth.active = False
    assert await checks.revoked(KEY, api_key="ts_live_x") == "key_revoked"
    auth.down = True
    with pytest.raises(RevocationUnverifiable):
        await checks.revoked(KEY, api_key="ts_live_x")
    assert outcomes(metrics, "api_key", "unreachable") == 1


async def test_anonymous_credentials_need_no_check(
    auth: FakeAuth, checks: FallbackRevocation
) -> None:
    assert await checks.revoked(Credentials(subject="ip:127.0.0.1")) is None
    assert auth.calls == 0


async def test_a_cached_key_is_resolved_again_once_older_than_five_seconds(clock: Clock) -> None:
    answers: list[ResolvedKey | None] = [ResolvedKey("u1", "k1", None), None]

    async def resolve(key: str) -> ResolvedKey | None:
        return answers.pop(0)

    cache = ApiKeyCache(resolve, ttl_seconds=30, clock=clock)
    assert await cache.lookup("ts_live_x") is not None
    clock.now += 4
    assert await cache.resolves_freshly("ts_live_x")
    clock.now += 2
    assert await cache.lookup("ts_live_x") is not None  # the normal path keeps its 30 s
    assert not await cache.resolves_freshly("ts_live_x")


@pytest.mark.parametrize(
    ("content", "expected"),
    [
        (b'{"active": true}', True),
        (b'{"active": false}', False),
        (b'{"active": "yes"}', None),
        (b"[]", None),
        (b"not json", None),
    ],
)
def test_only_a_boolean_answer_from_auth_counts(content: bytes, expected: bool | None) -> None:
    assert parse_session_check(content) is expected


class MemoryGuard:
    """The guard's answer while Redis is down: allowed, nothing revoked that it has seen."""

    async def check(self, credentials: Credentials, policy: Policy) -> Verdict:
        return Verdict(None, Decision(True, 1, 0, 0), from_memory=True)


class Verifier:
    async def verify(self, token: str) -> AccessClaims:
        return AccessClaims("u1", "s1", "j1", issued_at=100, expires_at=2_000_000_000)


async def no_key(key: str) -> ResolvedKey | None:
    return None


class DownRedis:
    def pipeline(self, transaction: bool = True) -> None:
        raise RedisConnectionError("down")


async def test_the_gatekeeper_refuses_a_token_auth_says_was_revoked(
    auth: FakeAuth, checks: FallbackRevocation, metrics: GatewayMetrics
) -> None:
    auth.active = False
    gatekeeper = Gatekeeper(
        verifier=Verifier(),  # type: ignore[arg-type]
        api_keys=ApiKeyCache(no_key, ttl_seconds=30),
        guard=MemoryGuard(),  # type: ignore[arg-type]
        fallback=checks,
        failures=InvalidCredentialThrottle(
            DownRedis(),  # type: ignore[arg-type]
            metrics,
            limit=10,
            window_seconds=60,
        ),
        user_policy=POLICY,
        public_policy=POLICY,
        metrics=metrics,
    )
    with pytest.raises(NotAuthenticated) as refused:
        await gatekeeper.admit_user(authorization="Bearer t", api_key=None, client_ip="1.2.3.4")
    assert refused.value.reason == "session_revoked"
