"""One drill at a time per target: a lock file holding the drill's pid (a lock left by a drill
that died is taken over), kept where the target kind keeps its state."""

from __future__ import annotations

import os
from pathlib import Path

from runbooks.errors import RunbookError

# Where each kind of target keeps its drill lock, under the project root.
LOCK_FILES = {
    "sandbox": Path(".exitplan") / "sandbox" / "drill.lock",
    "live": Path(".exitplan") / "drill.lock",
}


def lock_file(root: Path, kind: str) -> Path:
    """The drill lock of the project's `kind` target."""
    return root / LOCK_FILES[kind]


def _alive(pid: int) -> bool:
    """Whether a process with this pid runs (a zombie does not)."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    try:
        return not Path(f"/proc/{pid}/stat").read_text().split(") ")[-1].startswith("Z")
    except OSError:
        return True


class DrillLock:
    """One drill at a time per target: a lock file holding the drill's pid."""

    def __init__(self, path: Path) -> None:
        self.path = path

    def __enter__(self) -> DrillLock:
        if self.path.exists():
            pid = int(self.path.read_text().strip() or 0)
            if pid and _alive(pid):
                raise RunbookError(
                    f"a drill is already running (pid {pid})",
                    fix="wait for it, or roll it back from its journal",
                )
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self.path.write_text(str(os.getpid()))
        return self

    def __exit__(self, *exc: object) -> None:
        self.path.unlink(missing_ok=True)
