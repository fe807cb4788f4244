"""Whether address ranges, taken together, admit the whole internet (stdlib only: the spec and
the policy pack both read it)."""

from __future__ import annotations

import ipaddress
from collections.abc import Iterable

Network = ipaddress.IPv4Network | ipaddress.IPv6Network


def whole_internet(cidrs: Iterable[object]) -> str:
    """The ranges that together cover every IPv4 or every IPv6 address, as a message names
    them (`0.0.0.0/1, 128.0.0.0/1 (together 0.0.0.0/0)`); empty when they do not."""
    nets = [ipaddress.ip_network(str(c), strict=False) for c in cidrs if c]
    for version, everything in ((4, "0.0.0.0/0"), (6, "::/0")):
        family = [n for n in nets if n.version == version]
        if any(n.prefixlen == 0 for n in ipaddress.collapse_addresses(family)):  # type: ignore[type-var]
            found = ", ".join(str(n) for n in family)
            return (
                found
                if len(family) == 1 and str(family[0]) == everything
                else (f"{found} (together {everything})")
            )
    return ""
