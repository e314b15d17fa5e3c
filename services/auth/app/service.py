"""Domain logic of the auth service (no HTTP here): accounts, sessions, tokens, API keys."""

import asyncio
import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import NoReturn

from services.auth.app.apikeys import ApiKey, ApiKeyStore
from services.auth.app.config import Settings
from services.auth.app.errors import (
    ApiKeyLimitReached,
    ApiKeyNotAllowed,
    ApiKeyNotFound,
    InvalidApiKey,
    InvalidCredentials,
    InvalidRefreshToken,
    LoginThrottled,
    PasswordConfirmationFailed,
    RecentSignInRequired,
    SessionNotFound,
)
from services.auth.app.keys import KeyRing
from services.auth.app.metrics import AuthMetrics
from services.auth.app.passwords import PasswordHashing
from services.auth.app.revocation import RevocationList
from services.auth.app.sessions import Session, SessionStore
from services.auth.app.throttle import LoginAttempts
from services.auth.app.tokens import (
    AccessToken,
    mint_access_token,
    new_api_key,
    new_secret,
    secret_digest,
)
from services.auth.app.users import User, UserStore, normalise_email
from shared.identity import Identity
from shared.problems import DependencyUnavailable

log = logging.getLogger("taskstream.auth")


def utcnow() -> datetime:
    return datetime.now(UTC)


@dataclass(frozen=True)
class IssuedTokens:
    access: AccessToken
    refresh_token: str
    session_id: str


@dataclass(frozen=True)
class NewApiKey:
    key: ApiKey
    secret: str


@dataclass(frozen=True)
class KeyRequest:
    name: str
    scopes: list[str]
    expires_in_days: int
    password: str | None = None


@dataclass
class AuthService:
    settings: Settings
    users: UserStore
    sessions: SessionStore
    api_keys: ApiKeyStore
    throttle: LoginAttempts
    revocations: RevocationList
    hashing: PasswordHashing
    keyring: KeyRing
    metrics: AuthMetrics
    clock: Callable[[], datetime] = utcnow
    # Set once the unique indexes exist; until then no account or session may be written.
    indexes_ready: asyncio.Event = field(default_factory=asyncio.Event)

    async def ensure_indexes(self) -> None:
        await self.sessions.ensure_indexes()
        await self.api_keys.ensure_indexes()
        self.indexes_ready.set()

    def require_ready(self) -> None:
        if not self.indexes_ready.is_set():
            raise DependencyUnavailable("The account store is not ready yet.")

    async def register(self, *, email: str, password: str, name: str | None) -> User:
        password_hash = await self.hashing.hash(password)
        return await self.users.create(
            email=email, name=name, password_hash=password_hash, now=self.clock()
        )

    async def login(
        self, *, email: str, password: str, address: str, user_agent: str | None
    ) -> IssuedTokens:
        outcome = "error"
        try:
            tokens = await self._login(
                email=email, password=password, address=address, user_agent=user_agent
            )
            outcome = "success"
            return tokens
        except InvalidCredentials:
            outcome = "invalid"
            raise
        except LoginThrottled:
            outcome = "throttled"
            raise
        finally:
            self.metrics.logins.labels(outcome).inc()

    async def _login(
        self, *, email: str, password: str, address: str, user_agent: str | None
    ) -> IssuedTokens:
        email = normalise_email(email)
        flooded = await self.throttle.begin_attempt(email=email, address=address)
        user = await self.users.by_email(email)
        # Unknown emails are checked against a dummy hash so both cases take as long.
        with self.metrics.password_hashing.time():
            matches = await self.hashing.verify(user.password_hash if user else None, password)
        if user is None or not matches:
            await self.throttle.failed(email=email, address=address)
            if flooded:
                await self._slow_down_flood()
            raise InvalidCredentials("Invalid email or password.")
        await self.throttle.succeeded(email=email, address=address)
        if user.password_hash and self.hashing.needs_rehash(user.password_hash):
            new_hash = await self.hashing.hash(password)
            await self.users.replace_hash(user_id=user.id, password_hash=new_hash)
        return await self.start_session(user_id=user.id, user_agent=user_agent)

    async def _slow_down_flood(self) -> None:
        """Many addresses are failing at this account: each failure waits before its answer."""
        self.metrics.login_floods.inc()
        log.warning("failed login at an account under a distributed guessing attack")
        await asyncio.sleep(self.settings.login_flood_delay_seconds)

    async def start_session(self, *, user_id: str, user_agent: str | None) -> IssuedTokens:
        refresh_token = new_secret()
        session = await self.sessions.create(
            user_id=user_id,
            token_hash=secret_digest(refresh_token),
            user_agent=user_agent,
            now=self.clock(),
            ttl=self.settings.refresh_token_ttl_seconds,
        )
        return IssuedTokens(self._mint(session), refresh_token, session.id)

    def _mint(self, session: Session) -> AccessToken:
        return mint_access_token(
            key=self.keyring.current(),
            user_id=session.user_id,
            session_id=session.id,
            issuer=self.settings.jwt_issuer,
            audience=self.settings.jwt_audience,
            ttl_seconds=self.settings.access_token_ttl_seconds,
            now=int(self.clock().timestamp()),
        )

    async def refresh(self, *, refresh_token: str) -> IssuedTokens:
        token_hash, new_token, now = secret_digest(refresh_token), new_secret(), self.clock()
        session = await self.sessions.rotate(
            token_hash=token_hash,
            new_hash=secret_digest(new_token),
            now=now,
            ttl=self.settings.refresh_token_ttl_seconds,
        )
        if session is None:
            await self._refuse_refresh(token_hash=token_hash, now=now)
        self.metrics.refreshes.labels("rotated").inc()
        return IssuedTokens(self._mint(session), new_token, session.id)

    async def _refuse_refresh(self, *, token_hash: str, now: datetime) -> NoReturn:
        """Refuse, and a rotated-away token replayed after the grace window is theft."""
        used = await self.sessions.find_used(token_hash)
        outcome = "invalid" if used is None else "reuse_in_grace"
        if used is not None:
            age = (now - used.rotated_at).total_seconds()
            if age > self.settings.refresh_reuse_grace_seconds:
                outcome = "theft"
                log.warning(
                    "refresh token replayed %.1fs after rotation; revoking its session",
                    age,
                    extra={"session_id": used.session_id},
                )
                await self._revoke_sessions([used.session_id], now=now)
        self.metrics.refreshes.labels(outcome).inc()
        raise InvalidRefreshToken("The refresh token is invalid or has expired.")

    async def _revoke_sessions(self, session_ids: list[str], *, now: datetime) -> None:
        # Redis first: if it is down the request fails with nothing changed and can be retried;
        # the other order would leave sessions dead in MongoDB but alive at the gateway.
        await self.revocations.revoke_sessions(session_ids)
        await self.sessions.revoke(session_ids=session_ids, now=now)

    async def logout(self, *, identity: Identity) -> None:
        await self._revoke_presented_token(identity)
        if identity.session_id is not None:
            await self._revoke_sessions([identity.session_id], now=self.clock())

    async def logout_all(self, *, identity: Identity, revoke_api_keys: bool = False) -> None:
        now = self.clock()
        await self._revoke_presented_token(identity)
        await self.revocations.revoke_user_tokens(
            user_id=identity.user_id, before=int(now.timestamp())
        )
        session_ids = await self.sessions.active_ids(user_id=identity.user_id)
        await self._revoke_sessions(session_ids, now=now)
        if revoke_api_keys:
            for key in await self.api_keys.list(user_id=identity.user_id):
                await self._revoke_api_key(user_id=identity.user_id, key_id=key.id)

    async def _revoke_presented_token(self, identity: Identity) -> None:
        if identity.token_id is not None and identity.token_expires_at is not None:
            await self.revocations.revoke_token(
                jti=identity.token_id, expires_at=identity.token_expires_at
            )

    async def me(self, *, user_id: str) -> User:
        user = await self.users.by_id(user_id)
        if user is None:
            raise InvalidCredentials("The account no longer exists.")
        return user

    async def require_recent_sign_in(self, identity: Identity) -> None:
        """The caller's session began within ``recent_sign_in_seconds``."""
        session = await self.sessions.get(identity.session_id) if identity.session_id else None
        window = timedelta(seconds=self.settings.recent_sign_in_seconds)
        if session is None or self.clock() - session.created_at > window:
            minutes = max(1, self.settings.recent_sign_in_seconds // 60)
            raise RecentSignInRequired(f"Sign in again (within {minutes} minutes) to do this.")

    async def set_password(
        self, *, identity: Identity, new_password: str, current_password: str | None
    ) -> None:
        """Set or change the password; the caller's other sessions end.

        An account with a password must confirm it. One without (made by a provider) needs a
        recent sign-in instead, so a stolen access token cannot add a password to it.
        """
        user = await self.me(user_id=identity.user_id)
        if user.password_hash is None:
            await self.require_recent_sign_in(identity)
        elif not current_password or not await self.hashing.verify(
            user.password_hash, current_password
        ):
            raise PasswordConfirmationFailed("The current password is missing or wrong.")
        new_hash = await self.hashing.hash(new_password)
        await self.users.replace_hash(user_id=user.id, password_hash=new_hash)
        session_ids = await self.sessions.active_ids(user_id=user.id)
        others = [sid for sid in session_ids if sid != identity.session_id]
        await self._revoke_sessions(others, now=self.clock())

    async def list_sessions(self, *, user_id: str) -> list[Session]:
        return await self.sessions.list_active(user_id=user_id, now=self.clock())

    async def delete_session(self, *, user_id: str, session_id: str) -> None:
        session = await self.sessions.get(session_id)
        if session is None or session.user_id != user_id or not session.active:
            raise SessionNotFound("No such session.")
        await self._revoke_sessions([session.id], now=self.clock())

    async def session_active(self, *, session_id: str, user_id: str, issued_at: int) -> bool:
        """The gateway's fallback revocation check while Redis is down (a lookup by ``_id``)."""
        session = await self.sessions.get(session_id)
        now = self.clock()
        return session is not None and session.vouches_for(
            user_id=user_id, issued_at=issued_at, now=now
        )

    async def create_api_key(
        self, *, identity: Identity, request: KeyRequest, address: str
    ) -> NewApiKey:
        await self._confirm_recent_sign_in(identity, password=request.password, address=address)
        user_id = identity.user_id
        if await self.api_keys.count(user_id=user_id) >= self.settings.api_key_max_per_user:
            raise ApiKeyLimitReached("Delete an API key before creating another.")
        secret, prefix = new_api_key()
        key = ApiKey.new(
            user_id=user_id,
            name=request.name,
            prefix=prefix,
            scopes=request.scopes,
            now=self.clock(),
            expires_in_days=request.expires_in_days,
        )
        await self.api_keys.create(key, key_hash=secret_digest(secret))
        return NewApiKey(key, secret)

    async def _confirm_recent_sign_in(
        self, identity: Identity, *, password: str | None, address: str
    ) -> None:
        """A stolen access token alone must not mint a long-lived credential."""
        if identity.via != "jwt" or identity.session_id is None:
            raise ApiKeyNotAllowed("API keys cannot manage API keys or sessions; sign in instead.")
        if password is not None:
            await self._check_password(identity.user_id, password=password, address=address)
            return
        session = await self.sessions.get(identity.session_id)
        age = (self.clock() - session.created_at).total_seconds() if session else float("inf")
        if age > self.settings.api_key_recent_auth_seconds:
            raise RecentSignInRequired(
                "Sign in again, or send the account's password, to create an API key."
            )

    async def _check_password(self, user_id: str, *, password: str, address: str) -> None:
        """Re-authentication, throttled like a login so it cannot be a guessing oracle."""
        user = await self.me(user_id=user_id)
        await self.throttle.begin_attempt(email=user.email, address=address)
        if not await self.hashing.verify(user.password_hash, password):
            await self.throttle.failed(email=user.email, address=address)
            raise RecentSignInRequired("The password is not correct.")
        await self.throttle.succeeded(email=user.email, address=address)

    async def list_api_keys(self, *, user_id: str) -> list[ApiKey]:
        now = self.clock()
        return [key for key in await self.api_keys.list(user_id=user_id) if key.expires_at > now]

    async def delete_api_key(self, *, user_id: str, key_id: str) -> None:
        if not await self.api_keys.owned(key_id=key_id, user_id=user_id):
            raise ApiKeyNotFound("No such API key.")
        await self._revoke_api_key(user_id=user_id, key_id=key_id)

    async def _revoke_api_key(self, *, user_id: str, key_id: str) -> None:
        # Redis first, as for sessions: a failure leaves the key whole and the delete retryable.
        await self.revocations.revoke_api_key(key_id)
        await self.api_keys.delete(key_id=key_id, user_id=user_id)

    async def resolve_api_key(self, *, key: str) -> ApiKey:
        found = await self.api_keys.by_hash(key_hash=secret_digest(key))
        if found is None or found.expires_at <= self.clock():
            raise InvalidApiKey("The API key is invalid, expired or deleted.")
        return found

    async def delete_expired(self) -> int:
        now = self.clock()
        return await self.sessions.delete_expired(now=now) + await self.api_keys.delete_expired(
            now=now
        )
