"""The one boundary between Chaos Toolkit and exitplan: the `Target` an activity acts on, from
the experiment's configuration; the wrapper that turns any failure into `ActivityFailed` and
declares which target operations the activity needs; and the checks run before an experiment
starts (every named stack drillable, every needed operation one the target has).

Configuration keys: `exitplan_project` (the project folder; default: the project at or above
the current directory), `exitplan_target` (`sandbox`, the default, or `live`: the deployed
stacks from their `pulumi stack output`) and, for `live`, `exitplan_router` (the stack whose
`exitplan:traffic` routes them; needed only when several stacks route)."""

from __future__ import annotations

import functools
import importlib
from collections.abc import Callable
from typing import Any, ParamSpec, TypeVar

from chaoslib import substitute
from chaoslib.exceptions import ActivityFailed, InterruptExecution
from chaoslib.types import Configuration, Experiment

from runbooks.targets.target import Need, Target, project, require, target_for

P = ParamSpec("P")
R = TypeVar("R")

__all__ = [
    "activity",
    "needs_of",
    "require_drillable",
    "require_operations",
    "resolve",
    "served_model_of",
]
EXTENSION = "chaos."  # the modules whose activities declare their target operations


def _project(configuration: Configuration = None) -> Any:
    """The project the experiment runs against (read once, kept while its files are
    unchanged)."""
    return project((configuration or {}).get("exitplan_project"))


def resolve(configuration: Configuration = None) -> Target:
    """The `Target` named by the configuration (the running sandbox by default)."""
    configuration = configuration or {}
    kind = str(configuration.get("exitplan_target", "sandbox"))
    return target_for(
        kind, _project(configuration).root, router=configuration.get("exitplan_router")
    )


def served_model_of(configuration: Configuration = None) -> str:
    """The model the service serves (read from the first stack behind the front door)."""
    first = resolve(configuration).stacks()[0]
    return str(_project(configuration).stack(first).spec.triton.models[0].name)


def require_drillable(stacks: list[str], configuration: Configuration = None) -> None:
    """Refuse (interrupt the experiment) unless every stack is marked `drillable: true`."""
    proj = _project(configuration)
    known = set(proj.stack_names())
    unknown = [s for s in stacks if s not in known]
    if unknown:
        raise InterruptExecution(
            f"refusing to run: no stack {', '.join(unknown)} in {proj.root} "
            f"(stacks: {', '.join(sorted(known))})"
        )
    refused = [s for s in stacks if not proj.stack(s).spec.drillable]
    if refused:
        raise InterruptExecution(
            f"refusing to run: {', '.join(refused)} not drillable "
            "(set drillable: true in the stack file to allow destructive experiments)"
        )


def _activities(experiment: Experiment) -> list[dict[str, Any]]:
    return [
        *(experiment.get("steady-state-hypothesis") or {}).get("probes", []),
        *experiment.get("method", []),
        *experiment.get("rollbacks", []),
    ]


def needs_of(experiment: Experiment, configuration: Configuration = None) -> list[Need]:
    """Every target operation the experiment's activities (of this extension) declare, on the
    stack each names (after substitution), in order of first mention."""
    found: list[Need] = []
    for item in _activities(experiment):
        provider = item.get("provider") or {}
        module = str(provider.get("module") or "")
        if provider.get("type") != "python" or not module.startswith(EXTENSION):
            continue
        func = getattr(importlib.import_module(module), str(provider.get("func")), None)
        arguments = substitute(provider.get("arguments") or {}, configuration or {}, {})
        stack = arguments.get("stack")
        for operation in getattr(func, "target_operations", ()):
            need = Need(operation, None if stack is None else str(stack))
            if need not in found:
                found.append(need)
    return found


def require_operations(experiment: Experiment, configuration: Configuration = None) -> None:
    """Refuse (interrupt the experiment) when its target lacks an operation the activities
    need: one message listing each with the target's reason."""
    try:
        require(
            resolve(configuration),
            needs_of(experiment, configuration),
            f"experiment {experiment.get('title', 'untitled')!r}",
        )
    except Exception as exc:  # the refusal, or a target that cannot be built
        raise InterruptExecution(f"refusing to run: {exc}") from exc


def activity(*operations: str) -> Callable[[Callable[P, R]], Callable[P, R]]:
    """Declare the target operations an activity needs (checked before the experiment starts)
    and wrap every exitplan or OS failure it raises into `ActivityFailed`."""

    def decorate(func: Callable[P, R]) -> Callable[P, R]:
        @functools.wraps(func)
        def wrapper(*args: P.args, **kwargs: P.kwargs) -> R:
            try:
                return func(*args, **kwargs)
            except (ActivityFailed, InterruptExecution):
                raise
            except Exception as exc:
                raise ActivityFailed(f"{func.__name__}: {exc}") from exc

        for operation in operations:
            Need(operation)  # a misspelt operation fails at import
        wrapper.target_operations = operations  # type: ignore[attr-defined]
        return wrapper

    return decorate
