"""AuthService on in-memory stores and a fake clock: accounts, refresh rotation, API keys."""

from concurrent.futures import ThreadPoolExecutor
from datetime import timedelta
from pathlib import Path

import pytest

from services.auth.app.errors import (
    ApiKeyLimitReached,
    ApiKeyNotAllowed,
    EmailTaken,
    InvalidApiKey,
    InvalidCredentials,
    InvalidRefreshToken,
    LoginThrottled,
    RecentSignInRequired,
)
from services.auth.app.service import IssuedTokens, KeyRequest
from services.auth.app.throttle import Limits
from services.auth.app.tokens import secret_digest
from services.auth.tests.fakes import InMemoryAuth
from shared.identity import Identity

EMAIL, PASSWORD, ADDRESS = "Ada@Example.org", "correct horse battery", "203.0.113.7"
GRACE = 2.0
RECENT = 600
MAX_KEYS = 3


class Harness(InMemoryAuth):
    def __init__(self, keys_dir: Path, executor: ThreadPoolExecutor) -> None:
        super().__init__(
            keys_dir,
            executor,
            limits=Limits(per_pair=3, per_address=50, flood_threshold=100),
            refresh_reuse_grace_seconds=GRACE,
            api_key_recent_auth_seconds=RECENT,
            api_key_max_per_user=MAX_KEYS,
            login_flood_delay_seconds=0,
        )

    async def signed_in(self) -> tuple[IssuedTokens, Identity]:
        if await self.users.by_email(EMAIL) is None:
            await self.service.register(email=EMAIL, password=PASSWORD, name="Ada")
        tokens = await self.service.login(
            email=EMAIL, password=PASSWORD, address=ADDRESS, user_agent="pytest"
        )
        session = self.sessions.sessions[tokens.session_id]
        identity = Identity(
            user_id=session.user_id,
            via="jwt",
            session_id=session.id,
            token_id=tokens.access.jti,
            token_expires_at=int(self.clock().timestamp()) + tokens.access.expires_in,
        )
        return tokens, identity

    def outcomes(self, counter: str) -> dict[str, float]:
        metric = getattr(self.service.metrics, counter)
        return {
            sample.labels["outcome"]: sample.value
            for family in metric.collect()
            for sample in family.samples
            if sample.name.endswith("_total")
        }


@pytest.fixture
def h(tmp_path: Path, executor: ThreadPoolExecutor) -> Harness:
    return Harness(tmp_path, executor)


async def test_register_normalises_the_email_and_refuses_it_twice(h: Harness) -> None:
    user = await h.service.register(email=EMAIL, password=PASSWORD, name="Ada")
    assert user.email == "ada@example.org"
    assert user.password_hash is not None
    assert PASSWORD not in user.password_hash
    with pytest.raises(EmailTaken):
        await h.service.register(email=" ADA@example.org ", password=PASSWORD, name=None)


async def test_login_starts_a_session_with_a_token_for_it(h: Harness) -> None:
    tokens, identity = await h.signed_in()
    session = h.sessions.sessions[tokens.session_id]
    assert (session.user_id, session.user_agent, session.active) == (
        identity.user_id,
        "pytest",
        True,
    )
    assert secret_digest(tokens.refresh_token) in h.sessions.tokens
    assert h.outcomes("logins") == {"success": 1.0}


async def test_a_wrong_password_and_an_unknown_email_fail_alike(h: Harness) -> None:
    await h.service.register(email=EMAIL, password=PASSWORD, name=None)
    for email, password in ((EMAIL, "wrong password!"), ("nobody@example.org", PASSWORD)):
        with pytest.raises(InvalidCredentials, match="Invalid email or password"):
            await h.service.login(email=email, password=password, address=ADDRESS, user_agent=None)
    assert h.throttle.address_failures[ADDRESS] == 2
    assert not h.sessions.sessions


async def test_guesses_past_the_limit_are_refused_even_with_the_right_password(h: Harness) -> None:
    await h.service.register(email=EMAIL, password=PASSWORD, name=None)
    for _ in range(3):
        with pytest.raises(InvalidCredentials):
            await h.service.login(
                email=EMAIL, password="wrong guess", address=ADDRESS, user_agent=None
            )
    with pytest.raises(LoginThrottled):
        await h.service.login(email=EMAIL, password=PASSWORD, address=ADDRESS, user_agent=None)
    # Another address (the owner's) is not locked out.
    await h.service.login(email=EMAIL, password=PASSWORD, address="198.51.100.1", user_agent=None)
    assert h.outcomes("logins") == {"invalid": 3.0, "throttled": 1.0, "success": 1.0}


async def test_refresh_rotates_the_token_and_extends_the_session(h: Harness) -> None:
    tokens, _ = await h.signed_in()
    h.clock.advance(3600)
    fresh = await h.service.refresh(refresh_token=tokens.refresh_token)
    assert fresh.session_id == tokens.session_id
    assert fresh.refresh_token != tokens.refresh_token
    session = h.sessions.sessions[tokens.session_id]
    assert session.last_used_at == h.clock()
    assert session.expires_at == h.clock() + timedelta(seconds=h.settings.refresh_token_ttl_seconds)
    again = await h.service.refresh(refresh_token=fresh.refresh_token)
    assert again.refresh_token not in (tokens.refresh_token, fresh.refresh_token)


async def test_the_old_token_within_the_grace_window_is_refused_but_not_theft(h: Harness) -> None:
    # Two tabs refreshing at once: the loser presents the token the winner just rotated.
    tokens, _ = await h.signed_in()
    fresh = await h.service.refresh(refresh_token=tokens.refresh_token)
    h.clock.advance(GRACE)
    with pytest.raises(InvalidRefreshToken):
        await h.service.refresh(refresh_token=tokens.refresh_token)
    assert h.sessions.sessions[tokens.session_id].active
    assert not h.revocations.sessions
    assert (await h.service.refresh(refresh_token=fresh.refresh_token)).session_id
    assert h.outcomes("refreshes") == {"rotated": 2.0, "reuse_in_grace": 1.0}


async def test_the_old_token_after_the_grace_window_is_theft_and_ends_the_session(
    h: Harness,
) -> None:
    tokens, _ = await h.signed_in()
    fresh = await h.service.refresh(refresh_token=tokens.refresh_token)
    h.clock.advance(GRACE + 0.5)
    with pytest.raises(InvalidRefreshToken):
        await h.service.refresh(refresh_token=tokens.refresh_token)
    assert not h.sessions.sessions[tokens.session_id].active
    assert h.revocations.sessions == {tokens.session_id}
    # The thief's (or the victim's) current token is dead too: the whole family is.
    with pytest.raises(InvalidRefreshToken):
        await h.service.refresh(refresh_token=fresh.refresh_token)
    assert h.outcomes("refreshes")["theft"] == 1.0


async def test_an_unknown_or_expired_refresh_token_revokes_nothing(h: Harness) -> None:
    tokens, _ = await h.signed_in()
    with pytest.raises(InvalidRefreshToken):
        await h.service.refresh(refresh_token="never issued")
    h.clock.advance(h.settings.refresh_token_ttl_seconds + 1)
    with pytest.raises(InvalidRefreshToken):
        await h.service.refresh(refresh_token=tokens.refresh_token)
    assert not h.revocations.sessions
    assert h.outcomes("refreshes") == {"invalid": 2.0}


async def test_logout_revokes_the_presented_token_and_its_session_only(h: Harness) -> None:
    first, identity = await h.signed_in()
    second, _ = await h.signed_in()
    await h.service.logout(identity=identity)
    assert h.revocations.tokens == {first.access.jti}
    assert h.revocations.sessions == {first.session_id}
    with pytest.raises(InvalidRefreshToken):
        await h.service.refresh(refresh_token=first.refresh_token)
    await h.service.refresh(refresh_token=second.refresh_token)


async def test_logout_all_ends_every_session_and_optionally_every_api_key(h: Harness) -> None:
    sessions = [await h.signed_in() for _ in range(3)]
    _, identity = sessions[0]
    key = await h.service.create_api_key(
        identity=identity, request=KeyRequest("ci", ["tasks:read"], 30), address=ADDRESS
    )
    await h.service.logout_all(identity=identity)
    assert h.revocations.sessions == {tokens.session_id for tokens, _ in sessions}
    assert h.revocations.users_not_before == {identity.user_id: int(h.clock().timestamp())}
    assert await h.service.list_sessions(user_id=identity.user_id) == []
    assert await h.service.resolve_api_key(key=key.secret) == key.key
    await h.service.logout_all(identity=identity, revoke_api_keys=True)
    assert h.revocations.api_keys == {key.key.id}
    with pytest.raises(InvalidApiKey):
        await h.service.resolve_api_key(key=key.secret)


async def test_an_api_key_has_its_scopes_once_and_a_capped_lifetime(h: Harness) -> None:
    _, identity = await h.signed_in()
    request = KeyRequest("ci", ["tasks:write", "tasks:read", "tasks:write"], 10_000)
    created = await h.service.create_api_key(identity=identity, request=request, address=ADDRESS)
    assert created.key.scopes == ("tasks:read", "tasks:write")
    assert created.key.expires_at == created.key.created_at + timedelta(days=365)
    assert created.secret.startswith(created.key.prefix + "_")
    assert secret_digest(created.secret) in h.api_keys.keys
    assert created.secret not in str(h.api_keys.keys)
    assert await h.service.resolve_api_key(key=created.secret) == created.key


async def test_an_api_key_stops_resolving_when_it_expires(h: Harness) -> None:
    _, identity = await h.signed_in()
    request = KeyRequest("short", ["search:read"], 1)
    created = await h.service.create_api_key(identity=identity, request=request, address=ADDRESS)
    h.clock.advance(86_400 - 1)
    assert await h.service.resolve_api_key(key=created.secret) == created.key
    assert await h.service.list_api_keys(user_id=identity.user_id) == [created.key]
    h.clock.advance(1)
    with pytest.raises(InvalidApiKey):
        await h.service.resolve_api_key(key=created.secret)
    assert await h.service.list_api_keys(user_id=identity.user_id) == []
    assert await h.service.delete_expired() == 1
    assert not h.api_keys.keys


async def test_creating_a_key_needs_a_recent_sign_in_or_the_password(h: Harness) -> None:
    _, identity = await h.signed_in()
    request = KeyRequest("ci", ["tasks:read"], 30)
    h.clock.advance(RECENT + 1)
    with pytest.raises(RecentSignInRequired, match="Sign in again"):
        await h.service.create_api_key(identity=identity, request=request, address=ADDRESS)
    wrong = KeyRequest("ci", ["tasks:read"], 30, password="not the password")
    with pytest.raises(RecentSignInRequired, match="not correct"):
        await h.service.create_api_key(identity=identity, request=wrong, address=ADDRESS)
    assert h.throttle.address_failures[ADDRESS] == 1
    right = KeyRequest("ci", ["tasks:read"], 30, password=PASSWORD)
    await h.service.create_api_key(identity=identity, request=right, address=ADDRESS)
    _, fresh = await h.signed_in()
    await h.service.create_api_key(identity=fresh, request=request, address=ADDRESS)
    assert await h.api_keys.count(user_id=identity.user_id) == 2


async def test_an_api_key_cannot_create_another(h: Harness) -> None:
    _, identity = await h.signed_in()
    as_key = Identity(user_id=identity.user_id, via="api_key", api_key_id="k1")
    with pytest.raises(ApiKeyNotAllowed):
        await h.service.create_api_key(
            identity=as_key, request=KeyRequest("x", ["tasks:read"], 1), address=ADDRESS
        )


async def test_a_user_holds_at_most_the_configured_number_of_keys(h: Harness) -> None:
    _, identity = await h.signed_in()
    request = KeyRequest("ci", ["tasks:read"], 30)
    created = [
        await h.service.create_api_key(identity=identity, request=request, address=ADDRESS)
        for _ in range(MAX_KEYS)
    ]
    with pytest.raises(ApiKeyLimitReached):
        await h.service.create_api_key(identity=identity, request=request, address=ADDRESS)
    await h.service.delete_api_key(user_id=identity.user_id, key_id=created[0].key.id)
    assert h.revocations.api_keys == {created[0].key.id}
    await h.service.create_api_key(identity=identity, request=request, address=ADDRESS)


async def test_expired_and_long_revoked_sessions_are_deleted(h: Harness) -> None:
    (_, identity), (kept, _) = await h.signed_in(), await h.signed_in()
    await h.service.logout(identity=identity)
    h.clock.advance(86_400)
    deleted = await h.service.delete_expired()
    assert set(h.sessions.sessions) == {kept.session_id}
    assert deleted == 1
    h.clock.advance(h.settings.refresh_token_ttl_seconds)
    # The last session and both current tokens (a revoked session's token stays until it expires).
    assert await h.service.delete_expired() == 3
    assert not h.sessions.sessions
    assert not h.sessions.tokens
