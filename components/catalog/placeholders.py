"""Placeholder values that must never reach a cloud (`data/placeholders.csv`): documentation
address ranges (RFC 5737, RFC 3849), reserved domain names (RFC 2606), the AWS documentation's
example account IDs and values the shipped stacks mark as not real.

The shipped stack files keep their placeholders so that they plan offline; `find_placeholders`
lists every one in a stack's config, which `exitplan plan` shows as warnings and the stack
program, under a real engine, refuses.
"""

from __future__ import annotations

import ipaddress
import re
from collections.abc import Iterator
from dataclasses import dataclass
from functools import cache
from typing import Any, Literal, cast

from components.catalog import Provenance, _parse

Kind = Literal["network", "domain", "aws_account", "marker"]
Network = ipaddress.IPv4Network | ipaddress.IPv6Network


@dataclass(frozen=True)
class Placeholder:
    """One kind of placeholder: what it is and what to put instead."""

    kind: Kind
    value: str
    meaning: str
    replace_with: str
    provenance: Provenance


@dataclass(frozen=True)
class Found:
    """A placeholder in a stack's config: the dotted field, its whole value and the pattern."""

    field: str
    value: str
    placeholder: Placeholder


@cache
def placeholders() -> tuple[Placeholder, ...]:
    """Every placeholder pattern the catalog knows."""
    return tuple(
        _parse(
            "placeholders.csv",
            lambda r, p: Placeholder(
                _kind(r["kind"]), r["value"], r["meaning"], r["replace_with"], p
            ),
        )
    )


def _kind(value: str) -> Kind:
    if value not in ("network", "domain", "aws_account", "marker"):
        raise ValueError(f"unknown placeholder kind {value!r}")
    return cast(Kind, value)


def find_placeholders(config: Any, prefix: str = "") -> list[Found]:
    """Every placeholder in a stack's config (any depth), with the dotted path of its field."""
    return [
        Found(field, value, pattern)
        for field, value in _leaves(config, prefix)
        for pattern in placeholders()
        if _matches(pattern, value)
    ]


def _leaves(value: Any, path: str) -> Iterator[tuple[str, str]]:
    if isinstance(value, dict):
        for key, item in value.items():
            yield from _leaves(item, f"{path}.{key}" if path else str(key))
    elif isinstance(value, list):
        for index, item in enumerate(value):
            yield from _leaves(item, f"{path}.{index}")
    elif isinstance(value, str):
        yield path, value


def _matches(pattern: Placeholder, value: str) -> bool:
    text = value.strip().lower()
    if pattern.kind == "network":
        reserved = ipaddress.ip_network(pattern.value)
        return any(n.version == reserved.version and n.overlaps(reserved) for n in _networks(text))
    if pattern.kind == "domain":
        host = _host(text)
        return host == pattern.value or host.endswith(f".{pattern.value}")
    if pattern.kind == "aws_account":
        return re.search(rf"(?<!\d){re.escape(pattern.value)}(?!\d)", text) is not None
    return pattern.value in text


def _networks(text: str) -> list[Network]:
    """The networks a value names: a CIDR, an address, or a range `first-last` (its ends)."""
    networks = []
    for part in text.split("-") if text.count("-") == 1 else [text]:
        try:
            networks.append(ipaddress.ip_network(part.strip(), strict=False))
        except ValueError:
            return []
    return networks


def _host(text: str) -> str:
    """The host a value names: a bare name, an email's domain or a URL's host."""
    host = text.split("://", 1)[-1].split("/", 1)[0].rsplit("@", 1)[-1]
    return host.split(":", 1)[0].rstrip(".")
