"""Serving actions: kill/restart (an outage) and hang/resume (a brownout) a stack's server."""

from chaoslib.types import Configuration

from chaos.target import activity, resolve

__all__ = ["hang", "kill", "restart", "resume"]


@activity
def kill(stack: str, configuration: Configuration = None) -> None:
    """Crash the stack's server (SIGKILL)."""
    resolve(configuration).kill(stack)


@activity
def restart(stack: str, configuration: Configuration = None) -> bool:
    """Start the stack's server again unless it already serves; return whether it restarted."""
    target = resolve(configuration)
    if target.health(stack):
        return False
    target.restart(stack)
    return True


@activity
def hang(stack: str, configuration: Configuration = None) -> None:
    """Freeze the stack's server (SIGSTOP): requests time out rather than being refused."""
    resolve(configuration).hang(stack)


@activity
def resume(stack: str, configuration: Configuration = None) -> None:
    """Unfreeze the stack's server (SIGCONT)."""
    resolve(configuration).resume(stack)
