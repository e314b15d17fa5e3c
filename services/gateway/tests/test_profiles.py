"""The profile cache behind flag targeting: parsed from auth, cached, never fatal."""

from datetime import UTC, datetime

from services.gateway.app.errors import BadUpstream
from services.gateway.app.profiles import Profile, ProfileCache, parse_profile
from shared.identity import Identity

ANN = Identity(user_id="ann", via="jwt")
ME = (
    b'{"id": "ann", "email": "ann@example.com", "name": null, "created_at": "2026-12-01T10:00:00Z"}'
)


class Clock:
    now = 0.0

    def __call__(self) -> float:
        return self.now


def test_auths_answer_becomes_a_profile_and_anything_else_an_empty_one() -> None:
    created = datetime(2026, 12, 1, 10, tzinfo=UTC)
    assert parse_profile(ME) == Profile("ann@example.com", created)
    assert parse_profile(None) == Profile()
    assert parse_profile(b'{"email": "x"}') == Profile()
    assert parse_profile(b"<html>") == Profile()


async def test_profiles_are_cached_and_an_unreachable_auth_only_briefly() -> None:
    calls: list[str] = []
    answers: list[bytes | None] = [None, ME]

    async def fetch(identity: Identity) -> bytes | None:
        calls.append(identity.user_id)
        answer = answers.pop(0)
        if answer is None:
            raise BadUpstream("auth is down")
        return answer

    clock = Clock()
    cache = ProfileCache(fetch, ttl_seconds=300, clock=clock)
    assert (await cache.context(ANN)).attributes == {}
    assert (await cache.context(ANN)).attributes == {}
    assert calls == ["ann"]
    clock.now = 11.0
    context = await cache.context(ANN)
    assert context.targeting_key == "ann"
    assert context.attributes["email_domain"] == "example.com"
    clock.now = 200.0
    await cache.context(ANN)
    assert calls == ["ann", "ann"]
