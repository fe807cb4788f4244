"""Signals take effect before the sandbox reports them done: after SIGSTOP every thread is
stopped, after SIGCONT none is, after SIGKILL the process group is gone (issue 15 item 7). The
subject is a real process with many busy threads, where a queued SIGSTOP reaches the last
thread late."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator

import pytest

from sandbox.errors import SandboxError
from sandbox.processes import (
    STOPPED,
    group_members,
    pid_alive,
    signal_and_wait,
    stop_process,
    thread_states,
)

THREADS = max(24, 2 * (os.cpu_count() or 1))  # more than the cores
# Each thread spins in C (hashlib releases the GIL for large inputs), so every thread is
# runnable and the kernel has to schedule each one before it can stop.
BUSY = f"""
import hashlib, os, sys, threading
data = bytes(1 << 16)
def spin():
    while True:
        hashlib.sha256(data).digest()
threads = [threading.Thread(target=spin, daemon=True) for _ in range({THREADS})]
for t in threads:
    t.start()
if os.fork() == 0:  # a second process in the group, like Triton's python-backend stub
    threading.Event().wait()  # the child says nothing: one "ready" line, from the parent
print("ready", flush=True)
threading.Event().wait()
"""


@pytest.fixture
def busy() -> Iterator[int]:
    """A process leading its own group, with THREADS spinning threads and a forked helper."""
    proc = subprocess.Popen(
        [sys.executable, "-c", BUSY], stdout=subprocess.PIPE, start_new_session=True
    )
    try:  # stopped whatever happens: a leaked one spins on every core until killed
        assert proc.stdout is not None and proc.stdout.readline() == b"ready\n"
        yield proc.pid
    finally:
        stop_process(proc.pid, 2, group=True)


def test_thread_states_lists_every_thread(busy: int) -> None:
    states = thread_states(busy)
    assert len(states) == THREADS + 1
    assert not set(states) & STOPPED
    assert len(group_members(busy)) == 2


def test_sigstop_returns_only_once_every_thread_is_stopped(busy: int) -> None:
    for _ in range(5):
        signal_and_wait(busy, signal.SIGSTOP)
        assert set(thread_states(busy)) <= STOPPED, "a thread still runs after hang returned"
        signal_and_wait(busy, signal.SIGCONT)
        assert not set(thread_states(busy)) & STOPPED, "a thread still stopped after resume"


def test_a_bare_sigstop_leaves_threads_running_for_a_while(busy: int) -> None:
    """Why the wait exists (what `hang` did before): right after kill() some thread of a busy
    process still runs in most tries."""
    caught_running = 0
    for _ in range(20):
        os.kill(busy, signal.SIGSTOP)
        caught_running += bool(set(thread_states(busy)) - STOPPED)
        signal_and_wait(busy, signal.SIGCONT)
    assert caught_running > 0


def test_sigkill_of_the_group_returns_once_every_member_is_gone(busy: int) -> None:
    signal_and_wait(busy, signal.SIGKILL, group=True)
    assert group_members(busy) == []
    assert not pid_alive(busy)


def test_a_signal_that_does_not_take_effect_in_time_is_an_error(
    busy: int, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr("sandbox.processes.thread_states", lambda _pid: ["R", "T"])
    start = time.monotonic()
    with pytest.raises(SandboxError) as caught:
        signal_and_wait(busy, signal.SIGSTOP, timeout_s=0.1)
    assert time.monotonic() - start < 1
    assert f"pid {busy} did not take SIGSTOP within 0.1 s (thread states RT)" in caught.value.cause
    os.kill(busy, signal.SIGCONT)
