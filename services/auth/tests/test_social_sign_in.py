"""SocialSignIn on in-memory stores and a fake provider: accounts, linking, unlinking."""

import uuid
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import pytest

from services.auth.app.errors import (
    IdentityNotFound,
    LastSignInMethod,
    SocialSignInFailed,
    UnknownProvider,
)
from services.auth.app.oidc.provider import VerifiedIdentity
from services.auth.app.oidc.service import FinishedFlow, SocialSignIn
from services.auth.tests.fakes import (
    FakeProvider,
    InMemoryAuth,
    InMemoryFlows,
    InMemoryIdentityStore,
    RecordedLocks,
)

EMAIL = "grace@example.org"


def person(email: str | None = EMAIL, *, verified: bool = True) -> VerifiedIdentity:
    return VerifiedIdentity(
        subject=uuid.uuid4().hex, email=email, email_verified=verified, name=" Grace "
    )


@contextmanager
def refused(code: str) -> Iterator[None]:
    """The flow ends with this error code (what the browser is sent back with)."""
    with pytest.raises(SocialSignInFailed) as caught:
        yield
    assert caught.value.code == code


class Harness(InMemoryAuth):
    def __init__(self, keys_dir: Path, executor: ThreadPoolExecutor) -> None:
        super().__init__(keys_dir, executor)
        self.google = FakeProvider("google")
        self.flows = InMemoryFlows()
        self.identities = InMemoryIdentityStore()
        self.locks = RecordedLocks()
        self.social = SocialSignIn(
            providers={"google": self.google},
            flows=self.flows,
            identities=self.identities,
            users=self.users,
            accounts=self.service,
            lock_user=self.locks,
            metrics=self.service.metrics,
        )
        self.service.indexes_ready.set()

    async def begin(self, *, link_user_id: str | None = None) -> tuple[str, str]:
        """The state the provider will send back, and the browser's binding cookie."""
        begun = await self.social.begin(
            provider_id="google", return_to="/tasks", browser=None, link_user_id=link_user_id
        )
        [state] = parse_qs(urlsplit(begun.authorization_url).query)["state"]
        return state, begun.browser

    async def finish(
        self, state: str, browser: str, who: VerifiedIdentity, *, error: str | None = None
    ) -> FinishedFlow:
        code = uuid.uuid4().hex
        self.google.people[code] = who
        return await self.social.finish(
            provider_id="google",
            state=state,
            code=code,
            error=error,
            browser=browser,
            user_agent="pytest",
        )

    async def sign_in(
        self, who: VerifiedIdentity, *, link_user_id: str | None = None
    ) -> FinishedFlow:
        state, browser = await self.begin(link_user_id=link_user_id)
        return await self.finish(state, browser, who)

    def outcomes(self) -> dict[str, float]:
        return {
            sample.labels["outcome"]: sample.value
            for family in self.service.metrics.social_signins.collect()
            for sample in family.samples
            if sample.name.endswith("_total")
        }


@pytest.fixture
def h(tmp_path: Path, executor: ThreadPoolExecutor) -> Harness:
    return Harness(tmp_path, executor)


async def test_a_first_sign_in_creates_a_password_less_account(h: Harness) -> None:
    grace = person()
    finished = await h.sign_in(grace)
    assert (finished.outcome, finished.return_to) == ("created", "/tasks")
    assert finished.tokens is not None
    user = await h.users.by_email(EMAIL)
    assert user is not None
    assert (user.name, user.password_hash) == ("Grace", None)
    [identity] = await h.identities.list(user_id=user.id)
    assert (identity.provider, identity.subject) == ("google", grace.subject)
    assert h.sessions.sessions[finished.tokens.session_id].user_id == user.id
    again = await h.sign_in(grace)
    assert again.outcome == "signed_in"
    assert again.tokens is not None
    assert h.sessions.sessions[again.tokens.session_id].user_id == user.id
    assert h.outcomes() == {"created": 1.0, "signed_in": 1.0}


async def test_an_existing_email_is_never_taken_over_by_a_provider(h: Harness) -> None:
    await h.service.register(email="Grace@Example.org", password="correct horse", name=None)
    with refused("account_exists"):
        await h.sign_in(person())
    assert not h.identities.identities


@pytest.mark.parametrize(
    ("who", "code"),
    [
        (person(verified=False), "email_unverified"),
        (person(None), "email_missing"),
        (person("not-an-email"), "email_missing"),
    ],
)
async def test_no_account_without_a_verified_email(
    h: Harness, who: VerifiedIdentity, code: str
) -> None:
    with refused(code):
        await h.sign_in(who)
    assert not h.users.users
    assert not h.identities.identities


async def test_a_state_is_used_once_and_only_by_the_browser_that_began_it(h: Harness) -> None:
    state, browser = await h.begin()
    with refused("invalid_state"):
        await h.finish(state, "x" * len(browser), person())
    await h.finish(state, browser, person())  # not burnt by the other browser
    with refused("invalid_state"):
        await h.finish(state, browser, person())


async def test_the_id_token_must_carry_the_flows_nonce(h: Harness) -> None:
    first, browser = await h.begin()
    await h.begin()  # the provider's next token answers another flow's nonce
    with refused("invalid_token"):
        await h.finish(first, browser, person())
    assert not h.users.users


async def test_a_code_the_provider_refuses_and_its_errors_end_the_flow(h: Harness) -> None:
    state, browser = await h.begin()
    with refused("invalid_grant"):
        await h.social.finish(
            provider_id="google",
            state=state,
            code="never issued",
            error=None,
            browser=browser,
            user_agent=None,
        )
    for error, code in (("access_denied", "access_denied"), ("<script>", "provider_error")):
        state, browser = await h.begin()
        with refused(code):
            await h.finish(state, browser, person(), error=error)
    assert h.outcomes() == {"invalid_grant": 1.0, "access_denied": 1.0, "provider_error": 1.0}


async def test_an_unknown_provider_is_refused(h: Harness) -> None:
    with pytest.raises(UnknownProvider):
        await h.social.begin(provider_id="myspace", return_to="/", browser=None)
    with refused("unknown_provider"):
        await h.social.finish(
            provider_id="myspace", state="s", code="c", error=None, browser=None, user_agent=None
        )


async def test_linking_attaches_the_identity_to_the_signed_in_account(h: Harness) -> None:
    owner = await h.service.register(email="ada@example.org", password="correct horse", name=None)
    grace = person()  # the provider's email need not match the account's
    linked = await h.sign_in(grace, link_user_id=owner.id)
    assert (linked.outcome, linked.tokens) == ("linked", None)
    assert [i.subject for i in await h.identities.list(user_id=owner.id)] == [grace.subject]
    assert (await h.sign_in(grace, link_user_id=owner.id)).outcome == "linked"  # no-op
    signed_in = await h.sign_in(grace)
    assert signed_in.tokens is not None
    assert h.sessions.sessions[signed_in.tokens.session_id].user_id == owner.id
    other = await h.service.register(email="bob@example.org", password="correct horse", name=None)
    with refused("identity_in_use"):
        await h.sign_in(grace, link_user_id=other.id)


async def test_an_identity_left_without_its_account_starts_over(h: Harness) -> None:
    # A crash between writing the identity and its account left this behind.
    grace = person()
    orphan = await h.identities.create(
        user_id="gone", provider="google", subject=grace.subject, email=EMAIL, now=h.clock()
    )
    finished = await h.sign_in(grace)
    assert finished.outcome == "created"
    assert orphan.id not in h.identities.identities


async def test_the_last_way_to_sign_in_is_kept_until_a_password_is_set(h: Harness) -> None:
    await h.sign_in(person())
    user = await h.users.by_email(EMAIL)
    assert user is not None
    [identity] = await h.identities.list(user_id=user.id)
    with pytest.raises(LastSignInMethod):
        await h.social.unlink(user_id=user.id, identity_id=identity.id)
    with pytest.raises(IdentityNotFound):
        await h.social.unlink(user_id="someone-else", identity_id=identity.id)
    await h.users.replace_hash(user_id=user.id, password_hash="argon2id-hash")
    await h.social.unlink(user_id=user.id, identity_id=identity.id)
    assert await h.identities.list(user_id=user.id) == []
    assert h.locks.held == [user.id, "someone-else", user.id]
