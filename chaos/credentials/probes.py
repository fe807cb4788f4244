"""Credential probes: the state of a stack's key, whether a redeploy is refused for its
credentials, and how long the stack took to recover from a revocation."""

import logging
import time

from chaoslib.types import Configuration

from chaos import recording
from chaos.credentials.refusals import auth_refusal
from chaos.target import activity, resolve

__all__ = ["credential_status", "redeploy_fails_with_auth_error", "seconds_since_revoked"]
logger = logging.getLogger("chaostoolkit")


@activity("credential_state")
def credential_status(stack: str, configuration: Configuration = None) -> str:
    """`active` or `revoked` (or the target's word for another state, e.g. the sandbox's
    `refused`: refused with no revocation), or `unknown` when the target says nothing."""
    return str(resolve(configuration).credential_state(stack).get("status", "unknown"))


@activity("redeploy")
def redeploy_fails_with_auth_error(stack: str, configuration: Configuration = None) -> bool:
    """Try a redeploy with the stack's current key: True when the store refused the
    credentials, as the store's SDK reports it (HTTP 401/403, an auth error code or type; see
    `refusals.auth_refusal`); False when the redeploy worked or failed for another reason."""
    try:
        resolve(configuration).redeploy(stack)
    except Exception as exc:
        refusal = auth_refusal(exc)
        logger.info(f"redeploy of {stack} failed ({refusal or 'not an auth refusal'}): {exc}")
        return refusal is not None
    return False


@activity("credential_state", "health")
def seconds_since_revoked(stack: str, configuration: Configuration = None) -> float:
    """Seconds from the start of this run's revocation of the stack's key until now, once the
    stack has recovered (its key active, its server ready): with a `range` tolerance
    `[0, RTO]` this is the claim "recovered within the RTO". Fails when the stack has not
    recovered or this run revoked nothing."""
    revoked = recording.activity_start("revoke_credentials", stack, configuration)
    if revoked is None:
        raise RuntimeError(f"this run did not revoke {stack}'s credentials")
    target = resolve(configuration)
    state = target.credential_state(stack).get("status")
    if state != "active" or not target.health(stack):
        raise RuntimeError(f"{stack} has not recovered: key {state}, ready {target.health(stack)}")
    return round(time.time() - revoked, 3)
