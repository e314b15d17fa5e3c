"""Conditional request headers (RFC 9110 §13): parsing ``If-Match`` and ``If-None-Match``."""


def parse_etags(header: str | None) -> frozenset[str] | None:
    """The entity tags a header lists (``*`` kept as is); ``None`` when there is no header."""
    if header is None:
        return None
    return frozenset(tag.strip() for tag in header.split(",") if tag.strip())


def none_match(header: str | None, current_etag: str) -> bool:
    """``If-None-Match`` uses the weak comparison: ``W/"x"`` matches ``"x"``."""
    tags = parse_etags(header)
    if not tags:
        return True
    return "*" not in tags and current_etag not in {tag.removeprefix("W/") for tag in tags}
