"""exitplan's safety control for Chaos Toolkit: before the experiment, refuse unless every
stack an activity names (argument `stack`, after substitution) is marked drillable."""

from typing import Any

from chaoslib import substitute
from chaoslib.types import Configuration, Experiment, Secrets

from chaos.target import require_drillable

__all__ = ["before_experiment_control", "named_stacks"]


def named_stacks(experiment: Experiment, configuration: Configuration = None) -> list[str]:
    """Every stack an activity of the experiment names, in order of first mention."""
    activities = [
        *(experiment.get("steady-state-hypothesis") or {}).get("probes", []),
        *experiment.get("method", []),
        *experiment.get("rollbacks", []),
    ]
    stacks: list[str] = []
    for item in activities:
        stack = ((item.get("provider") or {}).get("arguments") or {}).get("stack")
        if stack is not None:
            stack = str(substitute(stack, configuration or {}, {}))
            if stack not in stacks:
                stacks.append(stack)
    return stacks


def before_experiment_control(
    context: Experiment,
    configuration: Configuration = None,
    secrets: Secrets = None,
    **kwargs: Any,
) -> None:
    """Interrupt the run (status `interrupted`) when a named stack is not drillable."""
    require_drillable(named_stacks(context, configuration), configuration)
