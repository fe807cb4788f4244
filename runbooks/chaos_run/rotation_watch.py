"""A watcher of the router's view of each stack (in or out of rotation), polled in a thread
while a chaos experiment runs: when the front door marked a faulted stack down, and when it
took it back, measured on the wall clock independently of where the experiment's probes sit."""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass

from runbooks.targets.target import Target


@dataclass(frozen=True)
class RotationChange:
    """One stack entering or leaving rotation, at `at` (epoch seconds; the first poll's state
    is recorded as a change too)."""

    at: float
    stack: str
    in_rotation: bool


class RotationWatch:
    """Poll `target.in_rotation` for every stack every `interval_s` seconds until stopped."""

    def __init__(self, target: Target, interval_s: float = 0.02) -> None:
        self.target, self.interval_s = target, interval_s
        self.changes: list[RotationChange] = []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._poll, name="rotation-watch", daemon=True)

    def _poll(self) -> None:
        state: dict[str, bool] = {}
        while not self._stop.is_set():
            for stack in self.target.stacks():
                try:
                    now = self.target.in_rotation(stack)
                except Exception:  # a busy admin socket: the next poll tries again
                    continue
                if state.get(stack) != now:
                    state[stack] = now
                    self.changes.append(RotationChange(time.time(), stack, now))
            self._stop.wait(self.interval_s)

    def start(self) -> None:
        """Start polling in the background."""
        self._thread.start()

    def stop(self) -> list[RotationChange]:
        """Stop polling; every change seen, in time order."""
        self._stop.set()
        self._thread.join(timeout=5)
        return list(self.changes)


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
