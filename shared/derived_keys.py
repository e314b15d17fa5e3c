"""Per-purpose keys derived from ``INTERNAL_SIGNING_SECRET`` with HKDF (RFC 5869).

One configured secret, several uses (the internal identity MAC, auth's CSRF tokens): each use
gets its own key, so a value made for one purpose can never verify for another, and none of
them is the configured secret itself.
"""

from functools import lru_cache

from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

SALT = b"taskstream/v1"


@lru_cache(maxsize=32)
def derive_key(secret: bytes, purpose: str) -> bytes:
    """A 32-byte key for ``purpose``; cached, since the secret does not change while running."""
    hkdf = HKDF(algorithm=hashes.SHA256(), length=32, salt=SALT, info=purpose.encode())
    return hkdf.derive(secret)
