"""Who the client is: the socket peer, or what a trusted proxy says in ``X-Forwarded-For``.

Only peers inside ``GATEWAY_TRUSTED_PROXIES`` may speak for a client. Their list is read from
the right (each proxy appends the address it saw), skipping further trusted hops; the first
address no trusted proxy owns is the client. Anything left of it was written by the client and
is ignored, so nobody can choose their own rate-limit bucket.
"""

import ipaddress
from collections.abc import Iterable, Sequence

Network = ipaddress.IPv4Network | ipaddress.IPv6Network


def parse_networks(cidrs: Iterable[str]) -> list[Network]:
    """CIDRs (or bare addresses) as networks; raises ``ValueError`` on a malformed one."""
    return [ipaddress.ip_network(cidr.strip(), strict=False) for cidr in cidrs]


def is_trusted(address: str, trusted: Sequence[Network]) -> bool:
    try:
        ip = ipaddress.ip_address(address.strip())
    except ValueError:
        return False
    return any(ip in network for network in trusted)


def forwarded_chain(values: Iterable[bytes]) -> list[str]:
    """Every ``X-Forwarded-For`` entry, in order, over all occurrences of the field."""
    entries = (part.strip() for value in values for part in value.decode("latin-1").split(","))
    return [entry for entry in entries if entry]


def client_address(peer: str, forwarded_for: Iterable[bytes], trusted: Sequence[Network]) -> str:
    if not trusted or not is_trusted(peer, trusted):
        return peer
    chain = forwarded_chain(forwarded_for)
    for entry in reversed(chain):
        try:
            ipaddress.ip_address(entry)
        except ValueError:
            return peer  # a trusted hop wrote something that is not an address
        if not is_trusted(entry, trusted):
            return entry
    return chain[0] if chain else peer
