"""The sandbox's one exception family: what failed, and how to fix it."""

from __future__ import annotations


class SandboxError(Exception):
    """A sandbox component could not start, answer or stop. Exit code 2 (bad input or a
    missing prerequisite the user can fix)."""

    exit_code = 2

    def __init__(self, cause: str, *, fix: str = "") -> None:
        self.cause = cause
        self.fix = fix
        super().__init__(f"sandbox: {cause}" + (f"\n  fix: {fix}" if fix else ""))


class PlannedTritonFailed(SandboxError):
    """A stack's Triton, run as planned, did not start or cannot read its store: the plan
    would not serve. Exit code 1 (a check failed)."""

    exit_code = 1


class FirstDeployFailed(SandboxError):
    """`sandbox up --first-deploy`: a stack did not serve its model after the first deploy in
    the documented order. Exit code 1 (a check failed)."""

    exit_code = 1
