"""Social sign-in's clients, opened and closed with the auth service's lifespan."""

from collections.abc import AsyncIterator
from contextlib import AbstractAsyncContextManager, AsyncExitStack, asynccontextmanager

from redis.asyncio import Redis

from services.auth.app.config import Settings
from services.auth.app.oidc.flows import PendingFlows
from services.auth.app.oidc.identities import IdentityStore
from services.auth.app.oidc.provider import ProviderClient, open_http_client
from services.auth.app.oidc.service import SocialSignIn, UserLock
from services.auth.app.service import AuthService

UNLINK_LOCK_SECONDS = 10


def redis_user_lock(redis: Redis) -> UserLock:
    def lock(user_id: str) -> AbstractAsyncContextManager[object]:
        return redis.lock(f"auth:oidc:unlink:{{{user_id}}}", timeout=UNLINK_LOCK_SECONDS)

    return lock


@asynccontextmanager
async def open_social_sign_in(
    settings: Settings, *, accounts: AuthService, identities: IdentityStore, redis: Redis
) -> AsyncIterator[SocialSignIn]:
    async with AsyncExitStack() as stack:
        clients: dict[str, ProviderClient] = {}
        for provider in settings.oidc_providers:
            http = open_http_client(
                provider,
                redirect_uri=settings.oidc_redirect_uri(provider.id),
                timeout_seconds=settings.oidc_http_timeout_seconds,
            )
            clients[provider.id] = ProviderClient(
                provider,
                http=await stack.enter_async_context(http),
                discovery_ttl_seconds=settings.oidc_discovery_ttl_seconds,
                jwks_min_refetch_seconds=settings.oidc_jwks_min_refetch_seconds,
            )
        yield SocialSignIn(
            providers=clients,
            flows=PendingFlows(redis, ttl_seconds=settings.oidc_flow_ttl_seconds),
            identities=identities,
            users=accounts.users,
            accounts=accounts,
            lock_user=redis_user_lock(redis),
            metrics=accounts.metrics,
        )
