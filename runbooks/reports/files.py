"""Writing a file atomically and durably: a temp file beside it, flushed and fsynced, renamed
over it, then the folder fsynced, so that a reader (or a drill killed mid-write) never sees half
a file, and a power loss after the call cannot lose it (the rename is on disk too)."""

from __future__ import annotations

import os
import tempfile
from pathlib import Path


def write_atomic(path: Path, text: str, mode: int = 0o644) -> None:
    """Write `text` to `path`: a temp file in the same folder, flushed and fsynced, renamed over
    `path` (os.replace), then the folder fsynced. On any failure `path` keeps its old content
    and the temp file is removed."""
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        os.fchmod(fd, mode)
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            handle.write(text)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    fsync_folder(path.parent)


def fsync_folder(folder: Path) -> None:
    """fsync a folder, so that a rename or a new name in it survives a power loss."""
    fd = os.open(folder, os.O_RDONLY | os.O_DIRECTORY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)
