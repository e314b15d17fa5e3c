"""In-memory stand-ins for the auth service's stores, its Redis-backed parts and providers.

Each keeps its protocol's contract (``users.py``, ``sessions.py``, ``apikeys.py``,
``oidc/identities.py``, ``revocation.RevocationList``, ``throttle.LoginAttempts``) in dicts,
so ``AuthService`` runs without a network in unit tests; the integration tests run the
MongoDB adapters and Redis.
"""

import uuid
from collections import Counter
from collections.abc import AsyncIterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from contextlib import asynccontextmanager
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime, timedelta
from pathlib import Path

from argon2 import PasswordHasher
from prometheus_client import CollectorRegistry
from pydantic import SecretStr

from services.auth.app.apikeys import ApiKey
from services.auth.app.config import Settings
from services.auth.app.errors import EmailTaken
from services.auth.app.keys import KeyRing
from services.auth.app.metrics import AuthMetrics
from services.auth.app.oidc.flows import PendingFlow, WrongBrowser
from services.auth.app.oidc.identities import Identity, IdentityTaken
from services.auth.app.oidc.provider import CodeRejected, InvalidIdToken, VerifiedIdentity
from services.auth.app.oidc.settings import OidcProvider
from services.auth.app.passwords import PasswordHashing
from services.auth.app.service import AuthService
from services.auth.app.sessions import (
    REVOKED_RETENTION,
    Session,
    UsedToken,
    stored_user_agent,
)
from services.auth.app.throttle import AttemptCounts, Limits, judge
from services.auth.app.users import User, normalise_email

TEST_SECRET = "k7Qv2Lw9Zr4Tn8Ym3Px6Hc1Jd5Fb0Gs2"
DEFAULT_LIMITS = Limits(per_pair=10, per_address=50, flood_threshold=100)


class FakeClock:
    def __init__(self, now: datetime = datetime(2026, 6, 1, 12, 0, tzinfo=UTC)) -> None:
        self.now = now

    def __call__(self) -> datetime:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += timedelta(seconds=seconds)


class InMemoryUserStore:
    def __init__(self) -> None:
        self.users: dict[str, User] = {}

    async def create(
        self,
        *,
        email: str,
        name: str | None,
        password_hash: str | None,
        now: datetime,
        user_id: str | None = None,
    ) -> User:
        if await self.by_email(email) is not None:
            raise EmailTaken("An account with this email already exists.")
        user = User(user_id or uuid.uuid4().hex, normalise_email(email), name, now, password_hash)
        self.users[user.id] = user
        return user

    async def by_email(self, email: str) -> User | None:
        wanted = normalise_email(email)
        return next((user for user in self.users.values() if user.email == wanted), None)

    async def by_id(self, user_id: str) -> User | None:
        return self.users.get(user_id)

    async def replace_hash(self, *, user_id: str, password_hash: str) -> None:
        if user_id in self.users:
            self.users[user_id] = replace(self.users[user_id], password_hash=password_hash)


@dataclass
class _Token:
    session_id: str
    expires_at: datetime
    rotated_at: datetime | None = None


class InMemorySessionStore:
    def __init__(self) -> None:
        self.sessions: dict[str, Session] = {}
        self.revoked_at: dict[str, datetime] = {}
        self.tokens: dict[str, _Token] = {}  # current refresh tokens by hash
        self.used: dict[str, _Token] = {}  # rotated-away ones

    async def ensure_indexes(self) -> None:
        return None

    async def create(
        self, *, user_id: str, token_hash: str, user_agent: str | None, now: datetime, ttl: int
    ) -> Session:
        expires_at = now + timedelta(seconds=ttl)
        session = Session(
            uuid.uuid4().hex, user_id, now, now, stored_user_agent(user_agent), True, expires_at
        )
        self.sessions[session.id] = session
        self.tokens[token_hash] = _Token(session.id, expires_at)
        return session

    async def rotate(
        self, *, token_hash: str, new_hash: str, now: datetime, ttl: int
    ) -> Session | None:
        current = self.tokens.pop(token_hash, None)
        session = self.sessions.get(current.session_id) if current else None
        if session is None or not session.usable(now):
            return None
        expires_at = now + timedelta(seconds=ttl)
        self.used[token_hash] = _Token(session.id, expires_at, rotated_at=now)
        self.tokens[new_hash] = _Token(session.id, expires_at)
        self.sessions[session.id] = replace(session, last_used_at=now, expires_at=expires_at)
        return session

    async def get(self, session_id: str) -> Session | None:
        return self.sessions.get(session_id)

    async def find_used(self, token_hash: str) -> UsedToken | None:
        used = self.used.get(token_hash)
        if used is None or used.rotated_at is None:
            return None
        return UsedToken(used.session_id, used.rotated_at)

    async def active_ids(self, *, user_id: str) -> list[str]:
        return [s.id for s in self.sessions.values() if s.user_id == user_id and s.active]

    async def revoke(self, *, session_ids: list[str], now: datetime) -> None:
        for session_id in session_ids:
            if session_id in self.sessions:
                self.sessions[session_id] = replace(self.sessions[session_id], active=False)
                self.revoked_at[session_id] = now

    async def list_active(self, *, user_id: str, now: datetime) -> list[Session]:
        mine = [s for s in self.sessions.values() if s.user_id == user_id and s.usable(now)]
        return sorted(mine, key=lambda session: session.last_used_at, reverse=True)

    async def delete_expired(self, *, now: datetime) -> int:
        gone = [
            s.id
            for s in self.sessions.values()
            if s.expires_at <= now or self.revoked_at.get(s.id, now) <= now - REVOKED_RETENTION
        ]
        for session_id in gone:
            del self.sessions[session_id]
        deleted = len(gone)
        for tokens in (self.tokens, self.used):
            expired = [digest for digest, token in tokens.items() if token.expires_at <= now]
            for digest in expired:
                del tokens[digest]
            deleted += len(expired)
        return deleted


class InMemoryApiKeyStore:
    def __init__(self) -> None:
        self.keys: dict[str, ApiKey] = {}  # by the key's hash

    async def ensure_indexes(self) -> None:
        return None

    async def create(self, key: ApiKey, *, key_hash: str) -> None:
        if key_hash in self.keys:
            raise KeyError(key_hash)
        self.keys[key_hash] = key

    async def count(self, *, user_id: str) -> int:
        return len(await self.list(user_id=user_id))

    async def list(self, *, user_id: str) -> list[ApiKey]:
        mine = [key for key in self.keys.values() if key.user_id == user_id]
        return sorted(mine, key=lambda key: key.created_at, reverse=True)

    async def owned(self, *, key_id: str, user_id: str) -> bool:
        return any(key.id == key_id for key in await self.list(user_id=user_id))

    async def delete(self, *, key_id: str, user_id: str) -> None:
        for digest, key in list(self.keys.items()):
            if key.id == key_id and key.user_id == user_id:
                del self.keys[digest]

    async def by_hash(self, *, key_hash: str) -> ApiKey | None:
        return self.keys.get(key_hash)

    async def delete_expired(self, *, now: datetime) -> int:
        expired = [digest for digest, key in self.keys.items() if key.expires_at <= now]
        for digest in expired:
            del self.keys[digest]
        return len(expired)


class InMemoryIdentityStore:
    def __init__(self) -> None:
        self.identities: dict[str, Identity] = {}

    async def ensure_indexes(self) -> None:
        return None

    async def create(
        self, *, user_id: str, provider: str, subject: str, email: str | None, now: datetime
    ) -> Identity:
        if await self.find(provider=provider, subject=subject) is not None:
            raise IdentityTaken
        identity = Identity(uuid.uuid4().hex, user_id, provider, subject, email, now)
        self.identities[identity.id] = identity
        return identity

    async def find(self, *, provider: str, subject: str) -> Identity | None:
        found = (
            i for i in self.identities.values() if (i.provider, i.subject) == (provider, subject)
        )
        return next(found, None)

    async def list(self, *, user_id: str) -> list[Identity]:
        mine = [i for i in self.identities.values() if i.user_id == user_id]
        return sorted(mine, key=lambda identity: identity.created_at)

    async def delete(self, *, identity_id: str, user_id: str) -> bool:
        identity = self.identities.get(identity_id)
        if identity is None or identity.user_id != user_id:
            return False
        del self.identities[identity_id]
        return True


@dataclass
class RecordedRevocations:
    """What the gateway would find in Redis after each revocation."""

    tokens: set[str] = field(default_factory=set)
    sessions: set[str] = field(default_factory=set)
    users_not_before: dict[str, int] = field(default_factory=dict)
    api_keys: set[str] = field(default_factory=set)

    async def revoke_token(self, *, jti: str, expires_at: int) -> None:
        self.tokens.add(jti)

    async def revoke_sessions(self, session_ids: Sequence[str]) -> None:
        self.sessions.update(session_ids)

    async def revoke_user_tokens(self, *, user_id: str, before: int) -> None:
        self.users_not_before[user_id] = before

    async def revoke_api_key(self, key_id: str) -> None:
        self.api_keys.add(key_id)


class InMemoryLoginAttempts:
    """``LoginThrottle``'s counting and ``judge`` in dicts (no window: tests are short)."""

    def __init__(self, limits: Limits) -> None:
        self.limits = limits
        self.pair_attempts: Counter[tuple[str, str]] = Counter()
        self.address_failures: Counter[str] = Counter()
        self.account_failures: Counter[str] = Counter()

    async def begin_attempt(self, *, email: str, address: str) -> bool:
        self.pair_attempts[email, address] += 1
        counts = AttemptCounts(
            pair_attempts=self.pair_attempts[email, address],
            pair_ttl_ms=60_000,
            address_failures=self.address_failures[address],
            address_ttl_ms=60_000,
            account_failures=self.account_failures[email],
        )
        return judge(counts, self.limits)

    async def failed(self, *, email: str, address: str) -> None:
        self.address_failures[address] += 1
        self.account_failures[email] += 1

    async def succeeded(self, *, email: str, address: str) -> None:
        del self.pair_attempts[email, address]


class InMemoryAuth:
    """``AuthService`` on the fakes above, a fake clock and the cheapest argon2id there is
    (these tests are about the domain, not the hash); only the signing key is a file."""

    def __init__(
        self,
        keys_dir: Path,
        executor: ThreadPoolExecutor,
        *,
        limits: Limits = DEFAULT_LIMITS,
        **settings: object,
    ) -> None:
        self.settings = Settings.model_validate(
            {"internal_signing_secret": TEST_SECRET, "keys_dir": keys_dir, **settings}
        )
        self.clock = FakeClock()
        self.users = InMemoryUserStore()
        self.sessions = InMemorySessionStore()
        self.api_keys = InMemoryApiKeyStore()
        self.revocations = RecordedRevocations()
        self.throttle = InMemoryLoginAttempts(limits)
        keyring = KeyRing(keys_dir, token_ttl=self.settings.access_token_ttl_seconds)
        keyring.ensure_key()
        self.service = AuthService(
            settings=self.settings,
            users=self.users,
            sessions=self.sessions,
            api_keys=self.api_keys,
            throttle=self.throttle,
            revocations=self.revocations,
            hashing=PasswordHashing(
                PasswordHasher(time_cost=1, memory_cost=8, parallelism=1), executor
            ),
            keyring=keyring,
            metrics=AuthMetrics(CollectorRegistry()),
            clock=self.clock,
        )


class InMemoryFlows:
    """``PendingFlows`` in a dict: single use, and only for the browser that began it."""

    def __init__(self) -> None:
        self.flows: dict[str, PendingFlow] = {}

    async def save(self, state: str, flow: PendingFlow) -> None:
        self.flows[state] = flow

    async def take(self, state: str, *, browser: str | None) -> PendingFlow | None:
        flow = self.flows.get(state)
        if flow is not None and not flow.started_by(browser):
            raise WrongBrowser
        return self.flows.pop(state, None)


class FakeProvider:
    """An OpenID provider whose codes sign in whoever the test says; the id_token is checked
    against the nonce of the last authorization URL it made, as a real one's claim would be."""

    def __init__(self, provider_id: str) -> None:
        self.provider = OidcProvider(
            id=provider_id,
            name=provider_id.title(),
            issuer=f"https://{provider_id}.example.test",
            client_id="taskstream",
            client_secret=SecretStr("k2Jd8Qw4Zx7Lm3Pv9Ty5"),
        )
        self.people: dict[str, VerifiedIdentity] = {}  # by the code the browser brings back
        self.nonce = ""

    async def authorization_url(self, *, state: str, nonce: str, code_verifier: str) -> str:
        self.nonce = nonce
        return f"{self.provider.issuer}/authorize?state={state}"

    async def exchange_code(self, *, code: str, code_verifier: str) -> str:
        if code not in self.people:
            raise CodeRejected
        return f"{code}.{self.nonce}"

    async def verify_id_token(self, id_token: str, *, nonce: str) -> VerifiedIdentity:
        code, _, signed_nonce = id_token.partition(".")
        if signed_nonce != nonce:
            raise InvalidIdToken("nonce")
        return self.people[code]


class RecordedLocks:
    """The per-user lock, held in order: ``held`` lists whose lock was taken."""

    def __init__(self) -> None:
        self.held: list[str] = []

    @asynccontextmanager
    async def __call__(self, user_id: str) -> AsyncIterator[object]:
        self.held.append(user_id)
        yield user_id
