"""Client addresses as rate limits and throttles count them.

An IPv6 client usually holds a whole /64 (SLAAC, privacy addresses), so counting per /128
would let one client rotate through 2^64 addresses. IPv4 counts per address; an IPv4-mapped
IPv6 address counts as the IPv4 address it maps.
"""

import ipaddress

IPV6_GROUP_PREFIX = 64


def address_bucket(address: str) -> str:
    """The string a per-address limit is keyed by; anything unparsable is kept as it is."""
    try:
        ip = ipaddress.ip_address(address.strip())
    except ValueError:
        return address
    if isinstance(ip, ipaddress.IPv6Address):
        if ip.ipv4_mapped is not None:
            return str(ip.ipv4_mapped)
        network = ipaddress.IPv6Network((ip, IPV6_GROUP_PREFIX), strict=False)
        return str(network)
    return str(ip)
