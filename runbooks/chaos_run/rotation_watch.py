"""A watcher of the router's view of each stack (in or out of rotation), polled in a thread
while a chaos experiment runs: when the front door marked a faulted stack down, and when it
took it back, measured on the wall clock independently of where the experiment's probes sit."""

from __future__ import annotations

import itertools
import threading
import time
from dataclasses import dataclass, field

from runbooks.targets.target import Target


@dataclass(frozen=True)
class RotationChange:
    """One stack entering or leaving rotation, at `at` (epoch seconds; the first poll's state
    is recorded as a change too)."""

    at: float
    stack: str
    in_rotation: bool


@dataclass
class RotationLog:
    """What the watch saw: every change, and when each stack was read (successful reads only:
    a read that failed, a busy admin socket, is counted and tried again at the next poll)."""

    changes: list[RotationChange] = field(default_factory=list)
    reads: dict[str, list[float]] = field(default_factory=dict)  # epoch seconds, per stack
    failed: dict[str, int] = field(default_factory=dict)

    def widest_gap(self, stack: str, start: float, end: float) -> float:
        """The longest time from `start` to `end` without a successful read of `stack`: how
        much earlier than measured a change seen at `end` may have happened."""
        within = [t for t in self.reads.get(stack, []) if start < t < end]
        edges = [start, *within, end]
        return max(b - a for a, b in itertools.pairwise(edges))


class RotationWatch:
    """Poll `target.in_rotation` for every stack every `interval_s` seconds until stopped."""

    def __init__(self, target: Target, interval_s: float = 0.02) -> None:
        self.target, self.interval_s = target, interval_s
        self.log = RotationLog()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._poll, name="rotation-watch", daemon=True)

    def _poll(self) -> None:
        state: dict[str, bool] = {}
        while not self._stop.is_set():
            for stack in self.target.stacks():
                try:
                    now = self.target.in_rotation(stack)
                except Exception:  # a busy admin socket: counted; the next poll tries again
                    self.log.failed[stack] = self.log.failed.get(stack, 0) + 1
                    continue
                at = time.time()
                self.log.reads.setdefault(stack, []).append(at)
                if state.get(stack) != now:
                    state[stack] = now
                    self.log.changes.append(RotationChange(at, stack, now))
            self._stop.wait(self.interval_s)

    def start(self) -> None:
        """Start polling in the background."""
        self._thread.start()

    def stop(self) -> RotationLog:
        """Stop polling; what was seen (changes in time order)."""
        self._stop.set()
        self._thread.join(timeout=5)
        return self.log


def first_change(
    changes: list[RotationChange], stack: str, in_rotation: bool, after: float
) -> float | None:
    """When (epoch) `stack` first entered (`in_rotation`) or left rotation at or after `after`."""
    return next(
        (
            c.at
            for c in changes
            if c.stack == stack and c.in_rotation is in_rotation and c.at >= after
        ),
        None,
    )
