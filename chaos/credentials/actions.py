"""Credential actions: revoke a stack's model-store key, rotate it, redeploy with it."""

from chaoslib.types import Configuration

from chaos.target import activity, resolve

__all__ = ["ensure_working_credentials", "redeploy", "revoke_credentials", "rotate_credentials"]


@activity("revoke_credentials")
def revoke_credentials(stack: str, configuration: Configuration = None) -> None:
    """Revoke (delete) the key the stack reads its model store with."""
    resolve(configuration).revoke_credentials(stack)


@activity("rotate_credentials")
def rotate_credentials(stack: str, configuration: Configuration = None) -> None:
    """Give the stack a new key in the vault; the old one is deleted, never reinstated."""
    resolve(configuration).rotate_credentials(stack)


@activity("redeploy")
def redeploy(stack: str, configuration: Configuration = None) -> None:
    """Download the model again with the stack's current key and reload it."""
    resolve(configuration).redeploy(stack)


@activity("credential_state", "rotate_credentials", "redeploy")
def ensure_working_credentials(stack: str, configuration: Configuration = None) -> bool:
    """Rollback: when the stack's vaulted key is revoked, rotate to a new key and redeploy.
    Returns whether anything was changed. A revoked key is never reinstated."""
    target = resolve(configuration)
    if target.credential_state(stack).get("status") != "revoked":
        return False
    target.rotate_credentials(stack)
    target.redeploy(stack)
    return True
