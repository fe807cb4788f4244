"""The live target: the deployed stacks behind one router stack, from their `pulumi stack
output` (typed by `components.outputs`), with the router cloud's adapter for the DNS weights.

This module knows no cloud: the router cloud's adapter is the package `live/<cloud>/` when it
exists (its `router(traffic, dns_name, **options)` returns a `Router`); a registered cloud with
no such folder is a capability the live target lacks, refused with the reason. An adapter's
`credentials(stack, identity, **options)` returns the stack's `StoreCredentials` when the
stack's identity is its cloud's (else None); a stack no adapter claims keeps its credential
operations as gaps, with its cloud's reason from the catalog."""

from __future__ import annotations

import importlib
import importlib.util
from collections.abc import Callable, Mapping, Sequence
from types import ModuleType
from typing import Any

from components.catalog.clouds import clouds, facts
from components.outputs import SECRET_PLACEHOLDER, IdentityOutput, parse_outputs
from components.stack_config import Project
from runbooks.errors import LiveTargetError
from runbooks.targets.live.target import LiveTarget, StoreCredentials, stack_outputs

__all__ = ["LiveTarget", "build", "credentials", "from_outputs", "live_target_for", "router_clouds"]


def router_clouds() -> tuple[str, ...]:
    """The registered clouds whose DNS weights the live target can read and shift (those with
    an adapter folder here)."""
    return tuple(c for c in clouds() if importlib.util.find_spec(f"{__name__}.{c}") is not None)


def adapter(cloud: str) -> ModuleType:
    """The router adapter of `cloud`, or the reason there is none."""
    if cloud not in clouds():
        raise LiveTargetError(
            f"unknown DNS provider {cloud!r}: expected one of {', '.join(clouds())}",
            fix="check exitplan:traffic.dns_provider in the router stack's file",
        )
    if cloud not in router_clouds():
        raise LiveTargetError(
            f"weights through {facts(cloud).display_name}'s DNS are not supported by the live "
            f"target yet (it has adapters for {', '.join(router_clouds()) or 'no cloud'})",
            fix="shift the weights in that cloud's console, or rehearse on the sandbox",
        )
    return importlib.import_module(f"{__name__}.{cloud}")


def credentials(stack: str, identity: IdentityOutput, **options: Any) -> StoreCredentials | None:
    """The stack's store credentials from the first adapter that claims its identity kind."""
    for cloud in router_clouds():
        found: StoreCredentials | None = adapter(cloud).credentials(stack, identity, **options)
        if found is not None:
            return found
    return None


def from_outputs(
    outputs: Mapping[str, Mapping[str, Any]], traffic: Mapping[str, Any], **options: Any
) -> LiveTarget:
    """From each stack's outputs and the router stack's `exitplan:traffic` config (plus the
    service's `dns_name`, else the router stack's `traffic.public_name` output). `options` go
    to the adapters (say, a boto3 `session`): the router cloud's, and the one that revokes each
    stack's credentials."""
    router_cloud = adapter(str(traffic.get("dns_provider", "")))
    routed = [s for s in traffic.get("weights", {}) if s not in outputs]
    if routed:
        raise LiveTargetError(
            f"no outputs for the routed stacks {routed}",
            fix="pass `pulumi stack output --json -s STACK` of every stack the router weighs",
        )
    stacks = {name: parse_outputs(name, dict(raw)) for name, raw in outputs.items()}
    published = [s.traffic.public_name for s in stacks.values() if s.traffic]
    dns_name = traffic.get("dns_name") or next((p for p in published if p), None)
    if not dns_name or dns_name == SECRET_PLACEHOLDER:
        raise LiveTargetError("the router config names no dns_name and no stack publishes one")
    router = router_cloud.router(traffic, str(dns_name), **options)
    handled = {name: credentials(name, s.identity, **options) for name, s in stacks.items()}
    found = {name: c for name, c in handled.items() if c is not None}
    return LiveTarget(stacks, router, dns_name=str(dns_name), credentials=found)


def live_target_for(
    project: Project,
    stacks: Sequence[str] = (),
    router: str | None = None,
    *,
    runner: Callable[[list[str]], str] | None = None,
) -> LiveTarget:
    """The `LiveTarget` behind one router stack (its `exitplan:traffic`): `router` when named,
    else the only router whose weights route every stack in `stacks`; each routed stack's
    outputs from `pulumi stack output` (`runner` runs the command, for tests)."""
    routers = [project.stack(n) for n in project.stack_names() if project.stack(n).traffic]
    fitting = [
        r for r in routers
        if r.traffic and set(stacks) <= set(r.traffic.stacks) and router in (None, r.name)
    ]  # fmt: skip
    if len(fitting) != 1:
        wanted = f"router {router!r}" if router else f"a router for {', '.join(stacks) or 'all'}"
        names = ", ".join(r.name for r in routers) or "none"
        raise LiveTargetError(
            f"{'no' if not fitting else 'more than one'} stack matches {wanted} "
            f"(stacks with exitplan:traffic: {names})",
            fix="name the router stack (exitplan_router in an experiment's configuration), or "
            "add the stacks to its exitplan:traffic.weights",
        )
    chosen = fitting[0]
    assert chosen.traffic is not None
    traffic = {**chosen.config["exitplan:traffic"], "dns_name": chosen.spec.dns_name}
    outputs = {
        name: stack_outputs(project.root, name, runner=runner) for name in chosen.traffic.stacks
    }
    return from_outputs(outputs, traffic)


def build(project: Project, *, router: str | None = None, stacks: Sequence[str] = ()) -> LiveTarget:
    """`target_for("live", ...)`: see `live_target_for`."""
    return live_target_for(project, stacks, router)
