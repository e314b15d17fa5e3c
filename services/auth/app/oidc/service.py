"""Social sign-in, the domain side (no HTTP here): begin a flow, finish it, link and unlink.

A provider identity never attaches itself to an existing account because the emails match:
that is how a provider that lets people claim any address takes over accounts. A first
sign-in creates an account only for a verified email no account holds; otherwise the person
signs in the usual way and links the provider from their settings (``link_user_id``).
"""

import logging
import re
import uuid
from collections.abc import Callable, Mapping
from contextlib import AbstractAsyncContextManager
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Protocol

from services.auth.app.errors import (
    EmailTaken,
    IdentityNotFound,
    LastSignInMethod,
    SignInProviderDown,
    SocialSignInFailed,
    UnknownProvider,
)
from services.auth.app.metrics import AuthMetrics
from services.auth.app.oidc.flows import PendingFlow, WrongBrowser, digest, new_flow_secret
from services.auth.app.oidc.identities import Identity, IdentityStore, IdentityTaken
from services.auth.app.oidc.provider import (
    CodeRejected,
    InvalidIdToken,
    ProviderUnavailable,
    VerifiedIdentity,
)
from services.auth.app.oidc.settings import OidcProvider
from services.auth.app.service import AuthService, IssuedTokens
from services.auth.app.users import UserStore, normalise_email

log = logging.getLogger("taskstream.auth.oidc")
EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")
MAX_EMAIL_LENGTH = 254
MAX_NAME_LENGTH = 100
# A browser cookie we did not make is replaced, not trusted to be random.
BROWSER_COOKIE_LENGTH = len(new_flow_secret())
# A lock held across replicas while one user's sign-in methods change (a Redis lock).
UserLock = Callable[[str], AbstractAsyncContextManager[object]]


def utcnow() -> datetime:
    return datetime.now(UTC)


@dataclass(frozen=True)
class BegunFlow:
    authorization_url: str
    browser: str  # the binding cookie's value, new or the one the browser already had


@dataclass(frozen=True)
class FinishedFlow:
    return_to: str
    tokens: IssuedTokens | None  # None when an identity was linked to a signed-in account
    outcome: str


class SignInProvider(Protocol):
    """One OpenID provider (``provider.ProviderClient``)."""

    provider: OidcProvider

    async def authorization_url(self, *, state: str, nonce: str, code_verifier: str) -> str: ...

    async def exchange_code(self, *, code: str, code_verifier: str) -> str:
        """The id_token for ``code``; ``CodeRejected`` or ``ProviderUnavailable``."""

    async def verify_id_token(self, id_token: str, *, nonce: str) -> VerifiedIdentity:
        """The verified claims; ``InvalidIdToken`` if any check fails."""


class FlowStore(Protocol):
    """Sign-in flows in progress (``flows.PendingFlows``, in Redis)."""

    async def save(self, state: str, flow: PendingFlow) -> None: ...

    async def take(self, state: str, *, browser: str | None) -> PendingFlow | None:
        """The flow for ``state``, removed, once; ``WrongBrowser`` for another browser."""


@dataclass
class SocialSignIn:
    providers: Mapping[str, SignInProvider]
    flows: FlowStore
    identities: IdentityStore
    users: UserStore
    accounts: AuthService
    lock_user: UserLock
    metrics: AuthMetrics

    def provider_list(self) -> list[OidcProvider]:
        return [client.provider for client in self.providers.values()]

    def _client(self, provider_id: str) -> SignInProvider:
        client = self.providers.get(provider_id)
        if client is None:
            raise UnknownProvider("No such sign-in provider.")
        return client

    async def begin(
        self,
        *,
        provider_id: str,
        return_to: str,
        browser: str | None,
        link_user_id: str | None = None,
    ) -> BegunFlow:
        client = self._client(provider_id)
        if not browser or len(browser) != BROWSER_COOKIE_LENGTH:
            browser = new_flow_secret()
        state, nonce, verifier = new_flow_secret(), new_flow_secret(), new_flow_secret()
        try:
            url = await client.authorization_url(state=state, nonce=nonce, code_verifier=verifier)
        except ProviderUnavailable as exc:
            log.warning("provider unavailable", extra={"provider": provider_id, "why": str(exc)})
            raise SignInProviderDown("The sign-in provider is not answering.") from None
        flow = PendingFlow(
            provider=provider_id,
            nonce=nonce,
            code_verifier=verifier,
            return_to=return_to,
            browser_digest=digest(browser),
            link_user_id=link_user_id,
        )
        await self.flows.save(state, flow)
        return BegunFlow(url, browser)

    async def finish(
        self,
        *,
        provider_id: str,
        state: str | None,
        code: str | None,
        error: str | None,
        browser: str | None,
        user_agent: str | None,
    ) -> FinishedFlow:
        label = provider_id if provider_id in self.providers else "unknown"
        outcome = "error"
        try:
            finished = await self._finish(
                provider_id=provider_id,
                state=state,
                code=code,
                error=error,
                browser=browser,
                user_agent=user_agent,
            )
            outcome = finished.outcome
            return finished
        except SocialSignInFailed as exc:
            outcome = exc.code
            log.info("social sign-in refused", extra={"provider": label, "reason": exc.code})
            raise
        finally:
            self.metrics.social_signins.labels(label, outcome).inc()

    async def _finish(
        self,
        *,
        provider_id: str,
        state: str | None,
        code: str | None,
        error: str | None,
        browser: str | None,
        user_agent: str | None,
    ) -> FinishedFlow:
        client = self.providers.get(provider_id)
        if client is None:
            raise SocialSignInFailed("unknown_provider")
        self.accounts.require_ready()
        flow = await self._take_flow(provider_id, state, browser)
        if error:
            # The provider's own words are not echoed: only two codes leave this service.
            raise SocialSignInFailed(
                "access_denied" if error == "access_denied" else "provider_error"
            )
        if not code:
            raise SocialSignInFailed("invalid_request")
        person = await self._verified_identity(client, code, flow)
        if flow.link_user_id is not None:
            await self._link(flow, flow.link_user_id, person)
            return FinishedFlow(flow.return_to, None, "linked")
        return await self._sign_in(flow, person, user_agent)

    async def _take_flow(
        self, provider_id: str, state: str | None, browser: str | None
    ) -> PendingFlow:
        if not state:
            raise SocialSignInFailed("invalid_request")
        try:
            flow = await self.flows.take(state, browser=browser)
        except WrongBrowser:
            log.warning("callback from a browser that did not begin the flow")
            raise SocialSignInFailed("invalid_state") from None
        if flow is None or flow.provider != provider_id:
            raise SocialSignInFailed("invalid_state")
        return flow

    async def _verified_identity(
        self, client: SignInProvider, code: str, flow: PendingFlow
    ) -> VerifiedIdentity:
        try:
            id_token = await client.exchange_code(code=code, code_verifier=flow.code_verifier)
            return await client.verify_id_token(id_token, nonce=flow.nonce)
        except CodeRejected:
            raise SocialSignInFailed("invalid_grant") from None
        except InvalidIdToken as exc:
            log.warning("id_token refused", extra={"provider": flow.provider, "check": str(exc)})
            raise SocialSignInFailed("invalid_token") from None
        except ProviderUnavailable as exc:
            log.warning("provider unavailable", extra={"provider": flow.provider, "why": str(exc)})
            raise SocialSignInFailed("provider_unavailable") from None

    async def _sign_in(
        self, flow: PendingFlow, person: VerifiedIdentity, user_agent: str | None
    ) -> FinishedFlow:
        known = await self.identities.find(provider=flow.provider, subject=person.subject)
        if known is not None:
            user = await self.users.by_id(known.user_id)
            if user is not None:
                tokens = await self.accounts.start_session(user_id=user.id, user_agent=user_agent)
                return FinishedFlow(flow.return_to, tokens, "signed_in")
            # Left by a crash between writing the identity and its account: start over.
            await self.identities.delete(identity_id=known.id, user_id=known.user_id)
        user_id = await self._create_account(flow.provider, person)
        tokens = await self.accounts.start_session(user_id=user_id, user_agent=user_agent)
        return FinishedFlow(flow.return_to, tokens, "created")

    async def _create_account(self, provider_id: str, person: VerifiedIdentity) -> str:
        """A new password-less account for a verified email that no account holds yet."""
        email = verified_email(person)
        if await self.users.by_email(email) is not None:
            raise SocialSignInFailed("account_exists")
        # The identity first: if we stop before the account exists, the next sign-in finds an
        # identity without an account and starts over, and the email was never claimed.
        user_id, now = uuid.uuid4().hex, utcnow()
        try:
            identity = await self.identities.create(
                user_id=user_id,
                provider=provider_id,
                subject=person.subject,
                email=email,
                now=now,
            )
        except IdentityTaken:  # the same person's other tab won the race
            raise SocialSignInFailed("try_again") from None
        try:
            await self.users.create(
                email=email, name=display_name(person), password_hash=None, now=now, user_id=user_id
            )
        except EmailTaken:
            await self.identities.delete(identity_id=identity.id, user_id=user_id)
            raise SocialSignInFailed("account_exists") from None
        return user_id

    async def _link(self, flow: PendingFlow, user_id: str, person: VerifiedIdentity) -> None:
        if await self.users.by_id(user_id) is None:
            raise SocialSignInFailed("invalid_state")
        known = await self.identities.find(provider=flow.provider, subject=person.subject)
        if known is not None:
            if known.user_id != user_id:
                raise SocialSignInFailed("identity_in_use")
            return  # linked already: nothing to do
        email = normalise_email(person.email) if person.email else None
        try:
            await self.identities.create(
                user_id=user_id,
                provider=flow.provider,
                subject=person.subject,
                email=email,
                now=utcnow(),
            )
        except IdentityTaken:
            raise SocialSignInFailed("identity_in_use") from None

    async def list_identities(self, *, user_id: str) -> list[Identity]:
        return await self.identities.list(user_id=user_id)

    async def unlink(self, *, user_id: str, identity_id: str) -> None:
        # Serialised per user, so two unlinks at once cannot both see "another one is left".
        async with self.lock_user(user_id):
            identities = await self.identities.list(user_id=user_id)
            if not any(identity.id == identity_id for identity in identities):
                raise IdentityNotFound("No such linked account.")
            user = await self.users.by_id(user_id)
            has_password = user is not None and user.password_hash is not None
            if not has_password and len(identities) == 1:
                raise LastSignInMethod(
                    "This is the account's only way to sign in; set a password first."
                )
            await self.identities.delete(identity_id=identity_id, user_id=user_id)


def verified_email(person: VerifiedIdentity) -> str:
    if not person.email or len(person.email) > MAX_EMAIL_LENGTH:
        raise SocialSignInFailed("email_missing")
    email = normalise_email(person.email)
    if not EMAIL.match(email):
        raise SocialSignInFailed("email_missing")
    if not person.email_verified:
        raise SocialSignInFailed("email_unverified")
    return email


def display_name(person: VerifiedIdentity) -> str | None:
    name = (person.name or "").strip()
    return name[:MAX_NAME_LENGTH] or None
