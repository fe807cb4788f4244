"""The one boundary between Chaos Toolkit and exitplan: the `Target` an activity acts on, from
the experiment's configuration, and the wrapper that turns any failure into `ActivityFailed`.

Configuration keys: `exitplan_project` (the project folder; default: the project at or above
the current directory), `exitplan_target` (`sandbox`, the default, or `live`: the deployed
stacks from their `pulumi stack output`) and, for `live`, `exitplan_router` (the stack whose
`exitplan:traffic` routes them; needed only when several stacks route)."""

from __future__ import annotations

import functools
from collections.abc import Callable
from pathlib import Path
from typing import ParamSpec, TypeVar

from chaoslib.exceptions import ActivityFailed, InterruptExecution
from chaoslib.types import Configuration

from runbooks.target import (
    Target,
    drillable,
    project_root,
    project_stacks,
    served_model,
    target_for,
)

P = ParamSpec("P")
R = TypeVar("R")

__all__ = ["activity", "project", "require_drillable", "resolve", "served_model_of"]


def project(configuration: Configuration = None) -> Path:
    """The project folder the experiment runs against."""
    return project_root((configuration or {}).get("exitplan_project"))


def resolve(configuration: Configuration = None) -> Target:
    """The `Target` named by the configuration (the running sandbox by default)."""
    configuration = configuration or {}
    kind = str(configuration.get("exitplan_target", "sandbox"))
    return target_for(project(configuration), kind, configuration.get("exitplan_router"))


def served_model_of(configuration: Configuration = None) -> str:
    """The model the service serves (read from the first stack behind the front door)."""
    return served_model(project(configuration), resolve(configuration).stacks()[0])


def require_drillable(stacks: list[str], configuration: Configuration = None) -> None:
    """Refuse (interrupt the experiment) unless every stack is marked `drillable: true`."""
    root = project(configuration)
    known = set(project_stacks(root))
    unknown = [s for s in stacks if s not in known]
    if unknown:
        raise InterruptExecution(
            f"refusing to run: no stack {', '.join(unknown)} in {root} "
            f"(stacks: {', '.join(sorted(known))})"
        )
    refused = [s for s in stacks if not drillable(root, s)]
    if refused:
        raise InterruptExecution(
            f"refusing to run: {', '.join(refused)} not drillable "
            "(set drillable: true in the stack file to allow destructive experiments)"
        )


def activity(func: Callable[P, R]) -> Callable[P, R]:
    """Run an activity, wrapping every exitplan or OS failure into `ActivityFailed`."""

    @functools.wraps(func)
    def wrapper(*args: P.args, **kwargs: P.kwargs) -> R:
        try:
            return func(*args, **kwargs)
        except (ActivityFailed, InterruptExecution):
            raise
        except Exception as exc:
            raise ActivityFailed(f"{func.__name__}: {exc}") from exc

    return wrapper
