"""Traffic actions: shift the front door's weights (no dropped connections)."""

from chaoslib.types import Configuration

from chaos.target import activity, resolve

__all__ = ["set_weights"]


@activity("set_weights", "weights")
def set_weights(weights: dict, configuration: Configuration = None) -> dict:
    """Set the given stacks' weights; return the front door's weights afterwards."""
    target = resolve(configuration)
    target.set_weights({str(k): int(v) for k, v in weights.items()})
    return dict(target.weights())
