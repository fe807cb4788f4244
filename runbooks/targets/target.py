"""The `Target` a drill or a chaos experiment acts on, what a target cannot do (as data, checked
once before anything changes), and `target_for`, which builds one: the running sandbox
(`sandbox/target.py`) or the deployed stacks behind a router (`runbooks/targets/live/`).

Importing this module imports neither the sandbox nor a cloud SDK nor the components: a target
kind's module is imported when a target of that kind is built. Chaos activities import this
module and nothing else of the runbooks but the load generator.
"""

from __future__ import annotations

import importlib
import threading
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol, runtime_checkable

from runbooks.errors import RunbookError, UnsupportedOperation

if TYPE_CHECKING:
    from components.stack_config import Project


class Target(Protocol):
    """What drills and chaos experiments may do to the stacks of a service."""

    @property
    def kind(self) -> str:
        """`sandbox` or `live`: what `target_for` builds it from (journals record it)."""
        ...

    @property
    def unsupported(self) -> Mapping[str, str]:
        """What this target cannot do, with the reason: `operation` (on every stack) or
        `operation:stack` (on that stack) -> why. Checked by `require` before a drill or an
        experiment starts; a method called anyway raises with the same reason."""
        ...

    def stacks(self) -> list[str]:
        """The stacks behind the front door."""
        ...

    def endpoint(self) -> str:
        """The service's public entry point (the front door)."""
        ...

    def health(self, stack: str) -> bool:
        """Whether the stack's Triton reports ready."""
        ...

    def model_digest(self, stack: str) -> str:
        """sha256 of the model file the stack serves."""
        ...

    def store_uri(self, stack: str) -> str:
        """The model store the stack downloads its model from."""
        ...

    def weights(self) -> dict[str, int]:
        """The front door's weight per stack."""
        ...

    def set_weights(self, weights: dict[str, int]) -> None:
        """Shift traffic, without dropping connections."""
        ...

    def in_rotation(self, stack: str) -> bool:
        """Whether the router's health checks pass for the stack (it may be given traffic)."""
        ...

    def kill(self, stack: str) -> None:
        """Crash the stack's server (SIGKILL)."""
        ...

    def restart(self, stack: str) -> None:
        """Start a killed stack's server again and wait until it serves."""
        ...

    def hang(self, stack: str) -> None:
        """Freeze the stack's server (SIGSTOP): a brownout, timeouts rather than refusals."""
        ...

    def resume(self, stack: str) -> None:
        """Unfreeze it (SIGCONT)."""
        ...

    def revoke_credentials(self, stack: str) -> None:
        """Revoke what the stack reads its model store with: its key, or (live, an IRSA role)
        every session of its role issued before now."""
        ...

    def rotate_credentials(self, stack: str) -> None:
        """Undo a revocation without reinstating a revoked key: a new key in the vault and the
        old one deleted, or (live, an IRSA role) the revocation's deny policy removed."""
        ...

    def credential_state(self, stack: str) -> dict[str, str]:
        """`{"status": ...}` of the stack's store key (`active`, `revoked`, or why it has
        none), with its `key_id` where there is one."""
        ...

    def redeploy(self, stack: str) -> None:
        """Download the model again with the stack's current credentials, and reload it."""
        ...

    def reference_answers(self) -> Path | None:
        """The served model's reference.json (seeded requests and the answers the original
        framework gave: `exitplan package` writes it), or None where the target does not know
        it (a drill then needs `--reference`)."""
        ...

    def served_counts(self) -> dict[str, int] | None:
        """Inference requests each stack has answered so far: Triton's
        `nv_inference_request_success` (a counter: a window's traffic share is its delta), or
        None where the target can read no such count. Where answers carry no `x-served-by`
        header either, a drill's share gate fails as unmeasurable."""
        ...

    def store_newest(self, stack: str) -> float | None:
        """When the newest object of the stack's model store was written (Unix time), or None
        where the target cannot read the store: a standby's replicated store lags its primary's
        by the difference (the drill's RPO)."""
        ...


@runtime_checkable
class ScalableTarget(Target, Protocol):
    """A target whose stacks run at a standby level it can change (the sandbox): what an
    unplanned failover and a drill towards a pilot-light standby need."""

    def level(self, stack: str) -> dict[str, Any]:
        """`{"level", "replicas", "at_rest", "running"}`: the stack's standby level, the
        replicas it must run to carry the primary's load, how many run at rest and now."""
        ...

    def scale(self, stack: str, replicas: int | None = None) -> dict[str, float]:
        """Start the stack's stopped replicas up to `replicas` (default: the primary's
        minimum); the measured seconds of each phase (download, start, load)."""
        ...

    def set_level(self, stack: str, level: str | None = None) -> list[str]:
        """Run what `level` (default: the stack's own) runs at rest; the replicas stopped."""
        ...

    def dns_endpoint(self) -> str:
        """The router without L7 retries or redispatch (what a DNS router's clients see)."""
        ...

    def hold_out(self, stack: str, held: bool = True) -> None:
        """Take the stack out of the router's traffic, also as a failover target (`held`), or
        put it back: what keeps a failover drill's gap about the standby it names."""
        ...

    def held_out(self, stack: str) -> bool:
        """Whether the stack is held out of the router's traffic (`hold_out`)."""
        ...


# Every operation of the protocol: what a `Need` may name.
OPERATIONS = tuple(
    name
    for name in vars(Target)
    if not name.startswith("_") and name not in ("kind", "unsupported")
)


@dataclass(frozen=True)
class Need:
    """One operation a drill or an experiment will ask of its target (on `stack`, or on any)."""

    operation: str
    stack: str | None = None

    def __post_init__(self) -> None:
        if self.operation not in OPERATIONS:
            raise ValueError(f"{self.operation!r} is not an operation of a Target")

    def __str__(self) -> str:
        return f"{self.operation} {self.stack}" if self.stack else self.operation


def missing(target: Target, needs: Iterable[Need]) -> dict[str, str]:
    """Each need the target cannot meet (as `operation stack`) -> the target's reason."""
    gaps = target.unsupported
    found: dict[str, str] = {}
    for need in needs:
        reason = gaps.get(need.operation)
        if reason is None and need.stack is not None:
            reason = gaps.get(f"{need.operation}:{need.stack}")
        if reason is not None:
            found[str(need)] = reason
    return found


def require(target: Target, needs: Iterable[Need], what: str) -> None:
    """Refuse, before anything changes, what the target cannot do: one `UnsupportedOperation`
    listing every missing operation with its reason."""
    gaps = missing(target, needs)
    if gaps:
        listed = "; ".join(f"{need}: {reason}" for need, reason in gaps.items())
        raise UnsupportedOperation(
            f"{what} needs what the {target.kind} target cannot do: {listed}",
            fix="leave those steps out, or run it on a target that can do them",
        )


# Each kind of target and the module that builds it (`build(project, router=, stacks=)`),
# imported only when a target of that kind is built.
KINDS: dict[str, str] = {
    "sandbox": "runbooks.targets.sandbox_setup",
    "live": "runbooks.targets.live",
}


def target_for(
    kind: str,
    project_root: str | Path | None = None,
    *,
    router: str | None = None,
    stacks: Sequence[str] = (),
) -> Target:
    """The `Target` of the project at or above `project_root`: the running sandbox, or
    (`live`) the deployed stacks behind a router stack (`router`, else the one router that
    routes every stack in `stacks`), from their `pulumi stack output`."""
    if kind not in KINDS:
        raise RunbookError(f"unknown target {kind!r}", fix=f"use {' or '.join(KINDS)}")
    builder = importlib.import_module(KINDS[kind])
    target: Target = builder.build(project(project_root), router=router, stacks=stacks)
    return target


_PROJECTS: dict[Path, tuple[tuple[tuple[str, int, int], ...], Project]] = {}
_PROJECTS_LOCK = threading.Lock()


def project(path: str | Path | None = None) -> Project:
    """The project at or above `path` (default: the current directory), read once and kept
    until its Pulumi.yaml or a stack file changes (a chaos run asks for it per activity)."""
    from components.stack_config import Project, find_project

    root = find_project(Path(path) if path else Path.cwd())
    fresh = Project(root)
    files = [root / "Pulumi.yaml", *sorted(fresh.stack_dir.glob("Pulumi.*.yaml"))]
    stamp = tuple((f.name, f.stat().st_mtime_ns, f.stat().st_size) for f in files if f.is_file())
    with _PROJECTS_LOCK:
        cached = _PROJECTS.get(root)
        if cached is None or cached[0] != stamp:
            _PROJECTS[root] = (stamp, fresh)
        return _PROJECTS[root][1]
