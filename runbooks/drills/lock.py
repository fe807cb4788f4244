"""One run at a time per target: every run that changes a target (drill exit-plan, drill
rollback, chaos run, chaos rollback) holds the target's lock, `.exitplan/locks/<target>.lock`
under the project root, for as long as it may change the target.

The lock is taken atomically with flock(2) on the lock file (exclusive, non-blocking): the kernel
grants it to one open file only and drops it when its holder dies, SIGKILL included, so two runs
started together cannot both hold it and a dead run cannot keep it. The file records the holder
(pid, the process's start time from /proc/<pid>/stat field 22, the command, since when): a run
refused names them (exit 2); a run that finds the record of a run that died (its pid gone, or
reused by a process started at another time) takes the lock over and says so. A clean release
removes the file. On the live target the lock serializes the runs of this project folder only:
two machines drilling the same stacks are not seen."""

from __future__ import annotations

import datetime as dt
import fcntl
import json
import os
import sys
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass
from pathlib import Path
from types import TracebackType

from runbooks.errors import RunbookError

LOCKS = Path(".exitplan") / "locks"
RECORD_WAIT_S = 1.0


def lock_path(root: Path, target_id: str) -> Path:
    """Where the lock of target `target_id` (a target kind: sandbox, live) lives."""
    if not target_id or not target_id.replace("-", "").replace("_", "").isalnum():
        raise RunbookError(
            f"{target_id!r} is not a target name", fix="use a target kind: sandbox or live"
        )
    return root / LOCKS / f"{target_id}.lock"


def process_start(pid: int) -> int | None:
    """When process `pid` started (clock ticks after boot, /proc/<pid>/stat field 22), or None
    when no such process runs (a zombie has exited: None too)."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    fields = stat.rsplit(")", 1)[-1].split()  # field 3 (state) onwards; comm may hold spaces
    return None if fields[0] in ("Z", "X") else int(fields[19])


@dataclass(frozen=True)
class Holder:
    """The run a lock file names."""

    pid: int
    start: int | None
    command: str
    since: str

    @classmethod
    def this_process(cls, command: str) -> Holder:
        """This process, running `command`."""
        pid = os.getpid()
        since = dt.datetime.now(dt.UTC).isoformat(timespec="seconds")
        return cls(pid, process_start(pid), command, since)

    @classmethod
    def parse(cls, text: str) -> Holder | None:
        """The holder a lock file records; None for an empty or unreadable record."""
        try:
            data = json.loads(text)
            return cls(int(data["pid"]), data.get("start"), str(data["command"]), data["since"])
        except (ValueError, KeyError, TypeError):
            return None

    def running(self) -> bool:
        """Whether this very process still runs: its pid is alive with the same start time."""
        return self.start is not None and process_start(self.pid) == self.start

    def describe(self) -> str:
        """pid, command and since when, for a person."""
        return f"pid {self.pid} ({self.command}, since {self.since})"

    def gone(self) -> str:
        """Why this holder no longer runs."""
        if process_start(self.pid) is None:
            return f"pid {self.pid} is gone"
        return f"pid {self.pid} now belongs to another process (started at another time)"


class TargetLocked(RunbookError):
    """Another run holds the target's lock: nothing was changed; exit 2."""

    def __init__(self, target_id: str, holder: Holder | None, path: Path) -> None:
        if holder is None:
            cause = f"the {target_id} target is locked by another run (being taken now)"
        elif holder.running():
            cause = f"the {target_id} target is in use by {holder.describe()}"
        else:  # the kernel says held: the recorded run died, a child of it kept the file open
            cause = (
                f"the {target_id} target is locked: {holder.describe()} recorded it, "
                f"{holder.gone()}, but a process it started still holds {path} open"
            )
        super().__init__(
            cause,
            fix="wait for that run to finish; to stop it, kill its pid (Ctrl-C or SIGTERM roll "
            "it back; after a SIGKILL run `exitplan drill rollback JOURNAL` or `exitplan chaos "
            "rollback JOURNAL`)",
        )
        self.holder = holder


class TargetLock:
    """The lock of one target, as a context manager: `with TargetLock("sandbox", root,
    "drill exit-plan ..."):` refuses with TargetLocked when another run holds it, and takes over
    (calling `notice` with what it found, and keeping it in `taken_over`) the record of a run
    that died."""

    def __init__(
        self,
        target_id: str,
        root: Path,
        command: str,
        notice: Callable[[str], None] | None = None,
    ) -> None:
        self.target_id, self.command = target_id, command
        self.path = lock_path(root, target_id)
        self.notice = notice or (lambda message: print(message, file=sys.stderr))
        self.taken_over: Holder | None = None
        self._fd: int | None = None

    def acquire(self) -> None:
        """Take the lock now, or raise TargetLocked naming its holder."""
        self.path.parent.mkdir(parents=True, exist_ok=True)
        fd = self._locked_fd()
        previous = Holder.parse(os.pread(fd, 4096, 0).decode(errors="replace"))
        me = Holder.this_process(self.command)
        os.ftruncate(fd, 0)
        os.pwrite(fd, (json.dumps(asdict(me)) + "\n").encode(), 0)
        os.fsync(fd)
        self._fd = fd
        if previous is not None:  # a clean release removes the file: this run died holding it
            self.taken_over = previous
            self.notice(
                f"took over the {self.target_id} lock from {previous.describe()}: "
                f"{previous.gone() if not previous.running() else 'it no longer holds it'}; "
                "if it changed the target, roll it back from its journal"
            )

    def _locked_fd(self) -> int:
        """An open descriptor of the lock file, flock-ed exclusively. A holder that releases
        between our open and our flock has unlinked the file we opened: retry on the new one."""
        while True:
            fd = os.open(self.path, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o644)
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                os.close(fd)
                raise TargetLocked(self.target_id, _holder(self.path), self.path) from None
            try:
                current = os.stat(self.path)
            except FileNotFoundError:
                current = None
            mine = os.fstat(fd)
            if current is not None and (current.st_dev, current.st_ino) == (
                mine.st_dev,
                mine.st_ino,
            ):
                return fd
            os.close(fd)

    def release(self) -> None:
        """Give the lock back: remove the file (still holding it), then close it."""
        if self._fd is None:
            return
        self.path.unlink(missing_ok=True)
        os.close(self._fd)
        self._fd = None

    def __enter__(self) -> TargetLock:
        self.acquire()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.release()


def _holder(path: Path) -> Holder | None:
    """The holder a held lock file names; a holder that has just taken it writes its record
    right after: wait for it a moment (RECORD_WAIT_S)."""
    deadline = time.monotonic() + RECORD_WAIT_S
    while True:
        try:
            holder = Holder.parse(path.read_text())
        except OSError:
            holder = None
        if holder is not None or time.monotonic() > deadline:
            return holder
        time.sleep(0.01)
