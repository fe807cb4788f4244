"""The sandbox's processes by pid: whether one still runs (and is the very process that was
started, not a later one given the same pid), signalling a process group and waiting until the
signal took effect on every thread, a free port, and the one way every component is stopped
(SIGCONT, SIGTERM, a grace period, SIGKILL, reap).

Every sandbox module that starts a process stops it here, so `exitplan sandbox down` (which
only has the recorded pids) and a component's own `stop()` behave the same."""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import time
from collections.abc import Sequence
from pathlib import Path

from sandbox.errors import SandboxError

STOP_GRACE_S = 10.0
POLL_S = 0.05
SIGNAL_WAIT_S = 10.0
THREAD_POLL_S = 0.002
STOPPED = frozenset("tT")  # /proc state letters of a stopped thread (job control, tracing)


def pid_alive(pid: int) -> bool:
    """Whether a process with this pid exists (and is not a zombie); never for pid <= 0,
    which `kill` reads as a process group (a stopped replica is recorded with pid 0)."""
    if pid <= 0:
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    stat = Path(f"/proc/{pid}/stat")
    try:
        return not stat.read_text().split(") ")[-1].startswith("Z")
    except OSError:  # gone between the two looks, or no /proc
        return stat.exists()


def process_start(pid: int) -> int:
    """When the process started (clock ticks since boot, /proc/PID/stat field 22); 0 if gone."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except (OSError, IndexError):
        return 0
    return int(fields[19])


def free_port() -> int:
    """A free TCP port on 127.0.0.1."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def send(pid: int, sig: signal.Signals) -> None:
    """Signal one process; one that is already gone is no error."""
    with contextlib.suppress(ProcessLookupError):
        os.kill(pid, sig)


def signal_group(pid: int, sig: signal.Signals) -> None:
    """Signal a process started in a session of its own together with everything in its
    process group (Triton and its python-backend stubs: a crashed or frozen container takes
    its helpers with it, and a SIGKILLed server leaves no orphan stub)."""
    try:
        leads_group = os.getpgid(pid) == pid
    except ProcessLookupError:
        leads_group = True  # the leader is gone; members of its group may remain
    with contextlib.suppress(ProcessLookupError, PermissionError):
        if leads_group:
            os.killpg(pid, sig)
        else:
            os.kill(pid, sig)


def thread_states(pid: int) -> list[str]:
    """The state letter (R, S, D, T, t, Z, ...) of every thread of the process, from
    /proc/PID/task/*/stat; empty once the process is gone."""
    states = []
    for stat in Path(f"/proc/{pid}/task").glob("*/stat"):
        with contextlib.suppress(OSError, IndexError):
            states.append(stat.read_text().rsplit(")", 1)[1].split()[0])
    return states


def group_members(pgid: int) -> list[int]:
    """The live (not zombie) processes of process group `pgid`."""
    members = []
    for stat in Path("/proc").glob("[0-9]*/stat"):
        with contextlib.suppress(OSError, IndexError, ValueError):
            fields = stat.read_text().rsplit(")", 1)[1].split()
            if int(fields[2]) == pgid and fields[0] != "Z":
                members.append(int(stat.parent.name))
    return members


def _took_effect(pid: int, sig: signal.Signals, group: bool) -> tuple[bool, str]:
    """Whether `sig` has taken effect on the process, and what was seen (for the error)."""
    if sig == signal.SIGKILL:
        left = group_members(pid) if group else [pid] if pid_alive(pid) else []
        return not left, f"processes still alive: {left}"
    states = thread_states(pid)
    live = [s for s in states if s not in "ZX"]  # an exited main thread stays a zombie
    if sig == signal.SIGSTOP:
        done = bool(live) and all(s in STOPPED for s in live)
    else:
        done = not any(s in STOPPED for s in live)
    return done, f"thread states {''.join(sorted(states))}"


def signal_and_wait(
    pid: int, sig: signal.Signals, *, group: bool = False, timeout_s: float = SIGNAL_WAIT_S
) -> None:
    """Send `sig` (to the process group when `group`) and return only once it has taken
    effect: SIGSTOP, every thread stopped (state T); SIGCONT, none stopped; SIGKILL, the process
    (with `group`, every process of its group) gone. `kill()` only queues a stop and wakes one
    thread, so without the wait the others go on serving for a while."""
    if group:
        signal_group(pid, sig)
    else:
        os.kill(pid, sig)
    deadline = time.monotonic() + timeout_s
    while True:
        done, seen = _took_effect(pid, sig, group)
        if done:
            return
        if time.monotonic() > deadline:
            raise SandboxError(
                f"pid {pid} did not take {sig.name} within {timeout_s:g} s ({seen})",
                fix="check the process with ps -L; stop the sandbox with exitplan sandbox down",
            )
        time.sleep(THREAD_POLL_S if sig != signal.SIGKILL else POLL_S / 5)


def reap(pid: int, *, block: bool = False) -> None:
    """Collect our own exited child so that no zombie stays behind (no-op for others)."""
    with contextlib.suppress(ChildProcessError):
        os.waitpid(pid, 0 if block else os.WNOHANG)


def _wait_gone(pids: Sequence[int], timeout_s: float) -> None:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline and any(_running(pid) for pid in pids):
        time.sleep(POLL_S)


def _running(pid: int) -> bool:
    """Whether the process still runs: for our own child, until it is reaped (a multi-threaded
    process whose main thread exited shows as a zombie while its other threads still run); for
    another's, until it is gone or a zombie."""
    try:
        done, _status = os.waitpid(pid, os.WNOHANG)
    except ChildProcessError:
        return pid_alive(pid)
    return done != pid


def stop_processes(
    pids: Sequence[int],
    grace_s: float = STOP_GRACE_S,
    *,
    groups: Sequence[int] = (),
) -> None:
    """Stop processes by pid: SIGCONT (a paused process cannot stop) and SIGTERM to each, up
    to `grace_s` for all of them to exit, then SIGKILL to what is left, and reap our children.
    `groups`: pids whose whole process group is SIGKILLed at the end, whether or not the
    leader is still there (orphaned helpers, e.g. Triton's python-backend stubs)."""
    for pid in pids:
        send(pid, signal.SIGCONT)
        send(pid, signal.SIGTERM)
    _wait_gone(pids, grace_s)
    for pid in groups:
        signal_group(pid, signal.SIGKILL)
    for pid in pids:
        if pid not in groups and _running(pid):
            send(pid, signal.SIGKILL)
    _wait_gone(pids, grace_s)
    for pid in pids:
        reap(pid)


def stop_process(pid: int | None, grace_s: float = STOP_GRACE_S, *, group: bool = False) -> None:
    """`stop_processes` for one process (and its process group when `group`)."""
    if pid is not None:
        stop_processes([pid], grace_s, groups=[pid] if group else [])
