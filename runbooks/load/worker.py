"""The load generator in a process of its own, so that a drill's other work (API calls, journal
writes) cannot delay its requests: `python -m runbooks.load.worker REQUEST.json RECORDS.jsonl`.

REQUEST.json: {"url", "body" (text), "headers", "rate", "duration_s", "parent_pid"}. Each
finished request is appended to RECORDS.jsonl as one JSON object (the fields of
`RequestRecord`); RECORDS.start holds the wall-clock time the run's schedule starts from, and
RECORDS.done, once the run ends, how many requests it scheduled. With "reference" (a package's
reference.json) and "base_url", the reference requests are sent in turn and every answer is
checked. SIGUSR1 ends the schedule early: what was sent is waited for and recorded.

The worker dies with the process that started it (`parent_pid`), so a drill or a chaos run
SIGKILLed mid-run leaves no load behind: on Linux the kernel SIGKILLs it when its parent dies
(prctl PR_SET_PDEATHSIG), and a watchdog thread checks its parent pid every WATCH_S (elsewhere,
and for the moment before prctl took effect). PR_SET_PDEATHSIG fires when the parent *thread*
that started the worker ends: start it from the thread that outlives the load (the main one)."""

from __future__ import annotations

import asyncio
import ctypes
import json
import os
import signal
import sys
import threading
import time
from collections.abc import Callable
from dataclasses import asdict
from pathlib import Path
from typing import Any

from runbooks.load.generator import InferRequest, RequestRecord, reference_requests, run_load

PR_SET_PDEATHSIG = 1  # <linux/prctl.h>
WATCH_S = 0.2


def kill_on_parent_death() -> None:
    """Ask the kernel to SIGKILL this process when its parent (thread) dies: Linux prctl
    PR_SET_PDEATHSIG; nothing elsewhere."""
    if sys.platform.startswith("linux"):
        libc = ctypes.CDLL(None, use_errno=True)
        libc.prctl(PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0)


def watch_parent(parent_pid: int) -> None:
    """SIGKILL this process as soon as its parent is no longer `parent_pid` (it died and the
    process was handed to init or a subreaper), now or later: a daemon thread polls every
    WATCH_S."""

    def watch() -> None:
        while os.getppid() == parent_pid:
            time.sleep(WATCH_S)
        os.kill(os.getpid(), signal.SIGKILL)

    threading.Thread(target=watch, name="parent-watch", daemon=True).start()


def main(argv: list[str]) -> int:
    """Run one load as described by the request file; stream the records."""
    spec = json.loads(Path(argv[0]).read_text())
    # Ctrl-C and a hang-up reach the whole process group: the run that started this worker
    # stops it (SIGUSR1) once it has rolled back, so its requests are answered, not lost.
    for sig in (signal.SIGINT, signal.SIGHUP):
        signal.signal(sig, signal.SIG_IGN)
    if spec.get("parent_pid"):
        kill_on_parent_death()
        watch_parent(int(spec["parent_pid"]))  # also catches a parent gone before prctl
    records = Path(argv[1])
    with records.open("a", buffering=1) as out:

        def write(record: RequestRecord) -> None:
            out.write(json.dumps(asdict(record)) + "\n")

        scheduled = asyncio.run(_run(spec, records, write))
    # How many requests the schedule sent: a reader counts any without a record as lost.
    records.with_suffix(".done").write_text(json.dumps({"scheduled": scheduled}))
    return 0


def requests_of(spec: dict[str, Any]) -> list[InferRequest]:
    """What the spec asks to send: its reference answers' requests (each answer checked), or
    its one body."""
    if spec.get("reference"):
        return reference_requests(spec["base_url"], Path(spec["reference"]))
    return [InferRequest(spec["url"], spec["body"].encode(), spec.get("headers", {}))]


async def _run(spec: dict[str, Any], records: Path, write: Callable[[RequestRecord], None]) -> int:
    """The load, with RECORDS.start written from the loop's own clock as the schedule starts
    (the drill aligns its clock on it) and SIGUSR1 ending the schedule early (what was sent is
    still recorded); returns how many requests were scheduled."""
    stop = asyncio.Event()
    asyncio.get_running_loop().add_signal_handler(signal.SIGUSR1, stop.set)
    started = records.with_suffix(".start")
    _summary, done = await run_load(
        requests_of(spec),
        rate=spec["rate"],
        duration_s=spec["duration_s"],
        on_record=write,
        on_start=lambda epoch: started.write_text(repr(epoch)),
        stop=stop,
    )
    return len(done)


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
