"""Serving probes: whether stacks report ready."""

from chaoslib.types import Configuration

from chaos.target import activity, resolve

__all__ = ["all_healthy", "healthy"]


@activity("health")
def healthy(stack: str, configuration: Configuration = None) -> bool:
    """Whether the stack's server reports ready."""
    return resolve(configuration).health(stack)


@activity("stacks", "health")
def all_healthy(configuration: Configuration = None) -> bool:
    """Whether every stack behind the front door reports ready."""
    target = resolve(configuration)
    return all(target.health(s) for s in target.stacks())
