"""Redis key names that more than one service reads or writes, agreed in one place.

Keys of one user share the hash tag ``{<user id>}`` so they land in one Redis Cluster slot.
"""


def revoked_token(jti: str) -> str:
    """Set by auth on logout; the gateway refuses the access token while it exists."""
    return f"revoked:jti:{jti}"


def revoked_session(session_id: str) -> str:
    """Set by auth when a session ends; its access tokens are refused until they expire."""
    return f"revoked:sid:{session_id}"


def user_not_before(user_id: str) -> str:
    """Unix time set by logout-all: tokens of this user issued before it are refused."""
    return f"user:{{{user_id}}}:nbf"


def revoked_api_key(key_id: str) -> str:
    """Set by auth when an API key is deleted, so gateway caches cannot keep it alive."""
    return f"revoked:apikey:{key_id}"


def cache_version(user_id: str) -> str:
    """A counter bumped by search's invalidator after an index commit with this user's changes."""
    return f"user:{{{user_id}}}:cachever"


def stats_cache(user_id: str, version: int) -> str:
    return f"user:{{{user_id}}}:stats:v{version}"


def search_cache(user_id: str, query_digest: str) -> str:
    """One query's cached page, stored with the cache version it was searched under."""
    return f"user:{{{user_id}}}:search:{query_digest}"


def rate_limit(subject: str) -> str:
    return f"ratelimit:{subject}"
