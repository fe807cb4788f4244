"""Credential faults: revoke, rotate and redeploy with a stack's model-store key."""
