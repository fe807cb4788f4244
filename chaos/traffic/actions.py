"""Traffic actions: shift the front door's weights (no dropped connections), give back the
weights recorded before the run, and abort a canary that breaches the SLO."""

from typing import Any

from chaoslib.types import Configuration

from chaos import recording
from chaos.target import activity, resolve
from chaos.traffic.probes import slo_breached

__all__ = ["abort_canary_on_slo_breach", "restore_weights", "set_weights"]


def _weights(weights: list[dict[str, Any]]) -> dict[str, int]:
    """`[{stack, weight}, ...]` (stack names may be `${...}` variables) as a mapping."""
    return {str(item["stack"]): int(item["weight"]) for item in weights}


@activity("set_weights", "weights")
def set_weights(weights: list[dict[str, Any]], configuration: Configuration = None) -> dict:
    """Set the weights of the stacks listed as `{stack, weight}`; return the front door's
    weights afterwards."""
    target = resolve(configuration)
    target.set_weights(_weights(weights))
    return dict(target.weights())


@activity("set_weights", "weights")
def restore_weights(configuration: Configuration = None) -> dict:
    """Give every stack the weight recorded before this run (by the exitplan control);
    return the front door's weights afterwards."""
    target = resolve(configuration)
    target.set_weights({k: int(v) for k, v in recording.state_before()["weights"].items()})
    return dict(target.weights())


@activity("stacks", "endpoint", "set_weights", "weights")
def abort_canary_on_slo_breach(
    stack: str,
    p99_ms: float,
    max_error_rate: float = 0.0,
    seconds: float = 3.0,
    rate: float = 50.0,
    configuration: Configuration = None,
) -> dict:
    """Canary analysis: measure a burst through the front door against the SLO (see
    `slo_breached`) and, only when it is breached, abort the canary `stack` (its weight set to
    0). Returns the measurement with `aborted` and the weights afterwards."""
    measured = slo_breached(p99_ms, max_error_rate, seconds, rate, configuration=configuration)
    target = resolve(configuration)
    if measured["breached"]:
        target.set_weights({stack: 0})
    return {**measured, "aborted": bool(measured["breached"]), "weights": target.weights()}
