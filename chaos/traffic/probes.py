"""Traffic probes: weights, and what a short open-loop burst through the front door sees (its
error rate, p99, and the share of answers each stack served)."""

import time

from chaoslib.types import Configuration

from chaos.target import activity, resolve, served_model_of
from runbooks.load.generator import (
    LoadSummary,
    infer_request,
    load,
    metadata_inputs,
    reference_requests,
)
from runbooks.targets.target import Target

__all__ = [
    "error_rate_through_front_door",
    "seconds_until_error_free",
    "seconds_until_marked_down",
    "seconds_until_marked_up",
    "share_served_by",
    "slo_breached",
    "slo_met",
    "weight_of",
    "weights",
]


@activity("weights")
def weights(configuration: Configuration = None) -> dict:
    """The front door's weight per stack."""
    return dict(resolve(configuration).weights())


@activity("weights")
def weight_of(stack: str, configuration: Configuration = None) -> int:
    """The front door's weight of one stack (0 when it has none)."""
    return int(resolve(configuration).weights().get(stack, 0))


def _summary(seconds: float, rate: float, configuration: Configuration) -> LoadSummary | None:
    """A short open-loop burst through the front door, every answer checked against the
    model's reference answers where the target knows them (a wrong answer is a failed
    request); None when the front door refuses even the model's metadata (every request
    would fail)."""
    target = resolve(configuration)
    endpoint, reference = target.endpoint(), target.reference_answers()
    if reference is not None:
        requests = reference_requests(endpoint, reference)
    else:
        model = served_model_of(configuration)
        try:
            requests = [infer_request(endpoint, model, metadata_inputs(endpoint, model))]
        except OSError:
            return None
    summary, _ = load(requests, rate=float(rate), duration_s=float(seconds))
    return summary


def _burst(seconds: float, rate: float, configuration: Configuration) -> tuple[float, float]:
    """A short open-loop burst through the front door: (error rate, p99 ms of the successes)."""
    summary = _summary(seconds, rate, configuration)
    if summary is None or not summary.sent:
        return 1.0, 0.0
    return summary.failed / summary.sent, summary.p99_ms


@activity("stacks", "endpoint", "reference_answers")
def share_served_by(
    stack: str, seconds: float = 1.0, rate: float = 20.0, configuration: Configuration = None
) -> float:
    """The share of a burst's answers that `stack` served (from the front door's
    `x-served-by` header). Fails, never passes, when it cannot be measured: no request of the
    burst was answered, or answers came without the header (a DNS router names no stack)."""
    summary = _summary(seconds, rate, configuration)
    if summary is None or not summary.ok:
        raise RuntimeError(f"no answer through the front door in {seconds:g} s: share unmeasured")
    if summary.share.get("", 0.0) > 0:
        raise RuntimeError("answers without an x-served-by header: share unmeasured")
    return round(summary.share.get(stack, 0.0), 4)


@activity("stacks", "endpoint", "reference_answers")
def error_rate_through_front_door(
    seconds: float = 1.0, rate: float = 20.0, configuration: Configuration = None
) -> float:
    """Send `rate` requests a second for `seconds` (open loop): the share that failed."""
    return _burst(seconds, rate, configuration)[0]


@activity("stacks", "endpoint", "reference_answers")
def slo_breached(
    p99_ms: float,
    max_error_rate: float = 0.0,
    seconds: float = 2.0,
    rate: float = 20.0,
    configuration: Configuration = None,
) -> dict:
    """Measure a burst through the front door against the SLO: `breached` is true when its
    error rate is over `max_error_rate` or its p99 over `p99_ms`."""
    errors, p99 = _burst(seconds, rate, configuration)
    breached = errors > float(max_error_rate) or p99 > float(p99_ms)
    return {"breached": breached, "error_rate": errors, "p99_ms": p99}


@activity("stacks", "endpoint", "reference_answers")
def slo_met(
    p99_ms: float,
    max_error_rate: float = 0.0,
    seconds: float = 1.0,
    rate: float = 20.0,
    configuration: Configuration = None,
) -> bool:
    """Whether a burst through the front door meets the SLO (for steady-state hypotheses)."""
    measured = slo_breached(p99_ms, max_error_rate, seconds, rate, configuration=configuration)
    return not measured["breached"]


@activity("stacks", "endpoint", "reference_answers")
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
        if _burst(burst, rate, configuration)[0] == 0.0:
            return round(time.monotonic() - start, 3)
    raise TimeoutError(f"still failing requests after {timeout:g} s")


def wait_for_rotation(
    target: Target, stack: str, wanted: bool, timeout: float, poll: float = 0.02
) -> float:
    """Poll the router until the stack is in rotation (`wanted` true) or out of it: the
    seconds that took. Raises TimeoutError after `timeout`."""
    start = time.monotonic()
    while target.in_rotation(stack) != wanted:
        if time.monotonic() - start > timeout:
            state = "back in" if wanted else "out of"
            raise TimeoutError(f"{stack} not {state} rotation after {timeout:g} s")
        time.sleep(poll)
    return round(time.monotonic() - start, 3)


@activity("in_rotation")
def seconds_until_marked_down(
    stack: str, timeout: float = 10.0, configuration: Configuration = None
) -> float:
    """Seconds until the front door's health checks take the stack out of rotation (its
    detection time; the experiment adds the time since the fault from the journal)."""
    return wait_for_rotation(resolve(configuration), stack, False, float(timeout))


@activity("in_rotation")
def seconds_until_marked_up(
    stack: str, timeout: float = 30.0, configuration: Configuration = None
) -> float:
    """Seconds until the front door's health checks put the stack back in rotation."""
    return wait_for_rotation(resolve(configuration), stack, True, float(timeout))
