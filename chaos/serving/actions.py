"""Serving actions: kill/restart (an outage) and hang/resume (a brownout) a stack's server."""

from chaoslib.types import Configuration

from chaos.target import activity, resolve
from chaos.traffic.probes import wait_for_rotation

__all__ = ["hang", "kill", "restart", "resume"]


@activity("kill")
def kill(stack: str, configuration: Configuration = None) -> None:
    """Crash the stack's server (SIGKILL)."""
    resolve(configuration).kill(stack)


@activity("health", "restart", "in_rotation")
def restart(stack: str, rejoin_timeout: float = 30.0, configuration: Configuration = None) -> bool:
    """Start the stack's server again unless it already serves, then wait until the front door
    has it back in rotation (so that weights given back to it are served); return whether it
    restarted."""
    target = resolve(configuration)
    restarted = not target.health(stack)
    if restarted:
        target.restart(stack)
    wait_for_rotation(target, stack, True, float(rejoin_timeout))
    return restarted


@activity("hang")
def hang(stack: str, configuration: Configuration = None) -> None:
    """Freeze the stack's server (SIGSTOP): requests time out rather than being refused."""
    resolve(configuration).hang(stack)


@activity("resume", "in_rotation")
def resume(stack: str, rejoin_timeout: float = 30.0, configuration: Configuration = None) -> None:
    """Unfreeze the stack's server (SIGCONT) and wait until the front door has it back in
    rotation."""
    target = resolve(configuration)
    target.resume(stack)
    wait_for_rotation(target, stack, True, float(rejoin_timeout))
