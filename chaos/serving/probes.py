"""Serving probes: whether stacks report ready."""

from chaoslib.types import Configuration

from chaos.target import activity, resolve
from runbooks.targets.target import ScalableTarget, Target

__all__ = ["all_healthy", "healthy"]


@activity("health")
def healthy(stack: str, configuration: Configuration = None) -> bool:
    """Whether the stack's server reports ready."""
    return resolve(configuration).health(stack)


@activity("stacks", "health")
def all_healthy(configuration: Configuration = None) -> bool:
    """Whether every stack behind the front door that runs a server reports ready. A standby
    whose level runs none at rest (pilot-light) and runs none now is as its level says: it
    is not counted, or a sandbox with one could never start an experiment."""
    target = resolve(configuration)
    return all(target.health(s) for s in target.stacks() if _runs(target, s))


def _runs(target: Target, stack: str) -> bool:
    """Whether the stack runs, or should run at rest, a server (any stack of a target
    without levels)."""
    if not isinstance(target, ScalableTarget):
        return True
    level = target.level(stack)
    return bool(level["at_rest"] or level["running"])
