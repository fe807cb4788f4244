"""Credential probes: the state of a stack's key and whether a redeploy is refused."""

from chaoslib.types import Configuration

from chaos.target import activity, resolve

__all__ = ["credential_status", "redeploy_fails_with_auth_error"]

AUTH_ERRORS = ("InvalidAccessKeyId", "SignatureDoesNotMatch", "AccessDenied", "403", "401")


@activity("credential_state")
def credential_status(stack: str, configuration: Configuration = None) -> str:
    """`active` or `revoked` for a stack whose key the target checks, else why it has none
    (`fixed (emulator)`), or `unknown`."""
    return str(resolve(configuration).credential_state(stack).get("status", "unknown"))


@activity("redeploy")
def redeploy_fails_with_auth_error(stack: str, configuration: Configuration = None) -> bool:
    """Try a redeploy with the stack's current key: True when the store refuses the key."""
    try:
        resolve(configuration).redeploy(stack)
    except Exception as exc:
        return any(marker in str(exc) for marker in AUTH_ERRORS)
    return False
