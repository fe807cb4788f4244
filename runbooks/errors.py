"""The runbooks' one exception family: drills, chaos runs, targets, journals and reports."""

from __future__ import annotations


class RunbookError(Exception):
    """A drill or an experiment could not run or failed; `exit_code` follows the CLI
    contract."""

    exit_code = 2

    def __init__(self, cause: str, *, fix: str = "") -> None:
        self.cause = cause
        self.fix = fix
        super().__init__(cause + (f"\n  fix: {fix}" if fix else ""))


class DrillCheckFailed(RunbookError):
    """A pre-flight check or a gate failed: nothing is left changed; exit 1."""

    exit_code = 1


class DrillInterrupted(RunbookError):
    """Ctrl-C during a drill: rolled back; exit 130."""

    exit_code = 130


class UnsupportedOperation(RunbookError):
    """A drill or an experiment needs what its target cannot do: every missing operation with
    its reason, before anything changed; exit 2."""


class LiveTargetError(RunbookError):
    """The live target could not be built or a live call failed (or was refused); and the
    fix."""

    def __init__(self, cause: str, *, fix: str = "") -> None:
        super().__init__(cause, fix=fix)
        self.args = (f"live target: {cause}" + (f"\n  fix: {fix}" if fix else ""),)
