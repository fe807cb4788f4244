"""Standby levels in the sandbox: how many Tritons a stack runs at rest and after a failover.

A stack's `replicas` is the primary's minimum (`triton.min_replicas`): what the standby must
run to carry the primary's load. At rest, the primary and a `hot` standby run all of them (so
does an `edge` deployment, serving its zone), a `warm` standby one (it scales to `replicas` at
failover), a `pilot-light` standby none (its store, credentials and config are in place; a
failover starts its Tritons). Every replica has a front-door server of its own from the start
(a stopped one is simply DOWN), so scaling needs no front-door reload."""

from __future__ import annotations

from typing import Literal, cast

Level = Literal["primary", "edge", "hot", "warm", "pilot-light"]
LEVELS: tuple[Level, ...] = ("primary", "edge", "hot", "warm", "pilot-light")
_REPLICA = ".r"  # HAProxy server name of replica n > 1: "<stack>.r<n>"


def level_of(name: str) -> Level:
    """`name` as a level; a ValueError naming the levels otherwise."""
    if name not in LEVELS:
        raise ValueError(f"unknown standby level {name!r}: use one of {', '.join(LEVELS)}")
    return cast(Level, name)


def at_rest(level: Level, replicas: int) -> int:
    """How many of the stack's `replicas` Tritons run while nothing fails."""
    counts = {"primary": replicas, "edge": replicas, "hot": replicas, "warm": min(1, replicas)}
    return counts.get(level, 0)  # pilot-light: none


def server_name(stack: str, replica: int) -> str:
    """The front door's server for one replica of a stack (replica 1 keeps the stack's name,
    so weights and status read per stack as before)."""
    return stack if replica == 1 else f"{stack}{_REPLICA}{replica}"


def stack_of(server: str) -> str:
    """The stack a front-door server belongs to."""
    head, sep, tail = server.rpartition(_REPLICA)
    return head if sep and tail.isdigit() else server
