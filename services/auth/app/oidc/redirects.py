"""Where a browser may be sent after signing in: a path on this site, never another site.

Browsers read ``//host``, ``/\\host`` (backslash as slash) and paths with tabs or newlines
stripped as other origins, so only a plain absolute path survives; anything else is ``/``.
"""

from urllib.parse import urlsplit

HOME = "/"
MAX_LENGTH = 2048


def safe_return_to(value: str | None) -> str:
    """``value`` if it is a local path (with its query), else ``/``."""
    if not value or len(value) > MAX_LENGTH or not value.startswith("/"):
        return HOME
    # A backslash is a slash to browsers; control characters and spaces are stripped or refused.
    if "\\" in value or any(ord(char) <= 0x20 or ord(char) == 0x7F for char in value):
        return HOME
    if value.startswith("//"):
        return HOME
    parts = urlsplit(value)
    if parts.scheme or parts.netloc:
        return HOME
    return value
