"""Output nobody may be reading any more: a closed pipe (`| tee` or `| head` gone), a terminal
that went away. Writing to either fails (EPIPE, EIO); a drill or a chaos run must still roll
back and finish its journal, so the CLI's stdout and stderr are best-effort: the first failed
write points that file descriptor at /dev/null (what is buffered, and every later write, by
this process or a child that inherits it, goes there) and is otherwise ignored."""

from __future__ import annotations

import contextlib
import os
import sys
from typing import Any, TextIO


class BestEffort:
    """A text stream whose writes and flushes never raise OSError: on the first failure its
    file descriptor is replaced by /dev/null. Everything else is the wrapped stream's."""

    def __init__(self, stream: TextIO) -> None:
        self.stream = stream
        self.lost = False  # whether output was lost (the reader went away)

    def write(self, text: str) -> int:
        """Write `text`, or drop it once the reader is gone."""
        try:
            return self.stream.write(text)
        except OSError:
            self._silence()
            return len(text)

    def flush(self) -> None:
        """Flush, or drop what is buffered once the reader is gone."""
        try:
            self.stream.flush()
        except OSError:
            self._silence()

    def _silence(self) -> None:
        self.lost = True
        try:
            fd = self.stream.fileno()
        except (OSError, ValueError):  # not a file (a test's capture): nothing to point
            return
        null = os.open(os.devnull, os.O_WRONLY)
        try:
            os.dup2(null, fd)
        finally:
            os.close(null)
        with contextlib.suppress(OSError):
            self.stream.flush()  # what was buffered goes to /dev/null now

    def __getattr__(self, name: str) -> Any:
        return getattr(self.stream, name)


def make_best_effort() -> None:
    """Replace sys.stdout and sys.stderr by best-effort streams (once; idempotent)."""
    for name in ("stdout", "stderr"):
        stream = getattr(sys, name)
        if stream is not None and not isinstance(stream, BestEffort):
            setattr(sys, name, BestEffort(stream))
