"""Traffic probes: weights, and error rate of a short open-loop burst through the front door."""

import time

from chaoslib.types import Configuration

from chaos.target import activity, resolve, served_model_of
from runbooks.load import infer_request, load, metadata_inputs

__all__ = ["error_rate_through_front_door", "seconds_until_error_free", "weights"]


@activity
def weights(configuration: Configuration = None) -> dict:
    """The front door's weight per stack."""
    return dict(resolve(configuration).weights())


def _burst(seconds: float, rate: float, configuration: Configuration) -> float:
    endpoint, model = resolve(configuration).endpoint(), served_model_of(configuration)
    try:
        inputs = metadata_inputs(endpoint, model)
    except OSError:  # the front door refuses even the model's metadata: every request fails
        return 1.0
    request = infer_request(endpoint, model, inputs)
    summary, _ = load(request, rate=float(rate), duration_s=float(seconds))
    return summary.failed / summary.sent if summary.sent else 1.0


@activity
def error_rate_through_front_door(
    seconds: float = 1.0, rate: float = 20.0, configuration: Configuration = None
) -> float:
    """Send `rate` requests a second for `seconds` (open loop): the share that failed."""
    return _burst(seconds, rate, configuration)


@activity
def seconds_until_error_free(
    timeout: float = 30.0,
    burst: float = 0.5,
    rate: float = 20.0,
    configuration: Configuration = None,
) -> float:
    """Send short bursts until one has no failure: the seconds that took (detection and
    failover as clients see it). Fails when no burst is clean within `timeout`."""
    start = time.monotonic()
    while time.monotonic() - start < timeout:
        if _burst(burst, rate, configuration) == 0.0:
            return round(time.monotonic() - start, 3)
    raise TimeoutError(f"still failing requests after {timeout:g} s")
