"""How long work reports its progress, with no user interface: packaging, publishing, the
sandbox and the drills call a `Progress`; the CLI draws it (`runbooks.progress`: rich bars on a
terminal, plain lines in a log, nothing with --json). It lives here, the lowest package the
others import, so that model_packaging, the sandbox and the drills share one protocol."""

from __future__ import annotations

from collections.abc import Callable
from typing import Protocol, runtime_checkable


@runtime_checkable
class Progress(Protocol):
    """Stages of long work, each with an optional total, and lines about the work in hand.

    A plain `Callable[[str], None]` is the simplest reporter: `reporter` wraps it so that it
    receives one line per stage and per message."""

    def __call__(self, message: str) -> None:
        """A line about the work in hand (a step begun, a file skipped, a figure measured)."""

    def stage(
        self, name: str, message: str = "", *, total: float | None = None, unit: str = ""
    ) -> None:
        """A stage begins (the one before it is done); `total` in `unit`s ("bytes", "steps",
        "s" for planned seconds) when known. Naming the current stage again updates it."""

    def advance(self, amount: float = 1) -> None:
        """`amount` more of the current stage's total is done."""

    def done(self) -> None:
        """The current stage finished."""


class Lines:
    """A `Progress` for a plain line callback: one line per stage and per message."""

    def __init__(self, say: Callable[[str], None]) -> None:
        self.say = say

    def __call__(self, message: str) -> None:
        """The message, as it is."""
        self.say(message)

    def stage(
        self, name: str, message: str = "", *, total: float | None = None, unit: str = ""
    ) -> None:
        """`name: message`, one line (the total is for bars)."""
        self.say(f"{name}: {message}" if message else name)

    def advance(self, amount: float = 1) -> None:
        """Nothing: a log has no bars."""

    def done(self) -> None:
        """Nothing: the next stage's line says the last one ended."""


SILENT = Lines(lambda _line: None)


def reporter(target: Progress | Callable[[str], None] | None) -> Progress:
    """`target` as a `Progress`: itself, a line callback wrapped in `Lines`, or `SILENT`."""
    if target is None:
        return SILENT
    if isinstance(target, Progress):
        return target
    return Lines(target)
