"""The drill journal: Chaos Toolkit's journal fields plus exitplan's measurements, written to
disk after every step, atomically and durably (`write_atomic`: temp file, fsync, rename, fsync
of the folder), so that a drill killed at any point can be undone from it (`exitplan drill
rollback JOURNAL`). Chaos runs write their journals with the same `write_atomic`."""

from __future__ import annotations

import datetime as dt
import json
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

from runbooks.errors import RunbookError
from runbooks.reports import files

T = TypeVar("T")


def write_atomic(path: Path, data: Any) -> None:
    """Write a journal (or any JSON-able `data`; a str is written as it is) to `path` atomically
    and durably: temp file in the same folder, flush, fsync, os.replace, fsync of the folder
    (created if missing). A crash at any point leaves either the old file or the new one."""
    text = data if isinstance(data, str) else json.dumps(data, indent=2, default=str) + "\n"
    path.parent.mkdir(parents=True, exist_ok=True)
    files.write_atomic(path, text)


def now_iso() -> str:
    """The current UTC time, ISO 8601."""
    return dt.datetime.now(dt.UTC).isoformat(timespec="milliseconds")


class Journal:
    """One drill's journal, persisted at `path` after every change."""

    def __init__(self, path: Path, data: dict[str, Any]) -> None:
        self.path = path
        self.data = data
        self.started = time.monotonic()

    @classmethod
    def new(cls, path: Path, title: str, exitplan: dict[str, Any]) -> Journal:
        """A fresh journal, saved at once."""
        journal = cls(
            path,
            {
                "title": title,
                "status": "running",
                "deviated": False,
                "start": now_iso(),
                "end": None,
                "duration": 0.0,
                "steady_states": {"before": None, "after": None},
                "run": [],
                "rollbacks": [],
                "exitplan": {
                    **exitplan,
                    "phases": [],
                    "gates": [],
                    "changes": [],
                    "timeline": [],
                    "verdict": {"passed": False, "summary": "running"},
                },
            },
        )
        journal.save()
        return journal

    @classmethod
    def load(cls, path: Path) -> Journal:
        """A journal from disk; a missing or corrupt file is bad input."""
        try:
            data = json.loads(path.read_text())
        except FileNotFoundError:
            raise RunbookError(
                f"no journal at {path}", fix="pass the journal.json a drill wrote"
            ) from None
        except (OSError, ValueError) as exc:
            raise RunbookError(f"{path} is not a readable journal: {exc}") from None
        if isinstance(data, dict) and "experiment" in data:
            raise RunbookError(
                f"{path} is the journal of a chaos run, not of a drill",
                fix=f"exitplan chaos rollback {path} (or chaos report)",
            )
        drill = isinstance(data, dict) and isinstance(data.get("exitplan"), dict)
        if not drill or "run" not in data or "from" not in data["exitplan"]:
            raise RunbookError(
                f"{path} is not the journal of a drill",
                fix="pass the journal.json a drill wrote (.exitplan/drills/*/journal.json)",
            )
        return cls(path, data)

    @property
    def exitplan(self) -> dict[str, Any]:
        """exitplan's own measurements (the live dict: changes to it are saved with the rest)."""
        result: dict[str, Any] = self.data["exitplan"]
        return result

    def elapsed(self) -> float:
        """Seconds since the drill started (this process's clock)."""
        return time.monotonic() - self.started

    def save(self) -> None:
        """Write the journal atomically and durably (`write_atomic`)."""
        write_atomic(self.path, self.data)

    def activity(
        self, name: str, kind: str, action: Callable[[], T], *, rollback: bool = False
    ) -> T:
        """Run one step, recording its start, end, status and output; saved after it."""
        entry: dict[str, Any] = {
            "activity": {"name": name, "type": kind},
            "status": "running",
            "start": now_iso(),
            "end": None,
            "output": None,
        }
        self.data["rollbacks" if rollback else "run"].append(entry)
        self.save()
        try:
            result = action()
        except BaseException as exc:
            entry.update(status="failed", end=now_iso(), output=str(exc))
            self.save()
            raise
        entry.update(status="succeeded", end=now_iso(), output=_plain(result))
        self.save()
        return result

    def change(self, what: str, detail: str, **undo: Any) -> dict[str, Any]:
        """Record a change the drill made (with what undoing it needs) before relying on it."""
        record = {"what": what, "detail": detail, "restored": False, **undo}
        self.data["exitplan"]["changes"].append(record)
        self.save()
        return record

    def finish(self, status: str, passed: bool, summary: str) -> None:
        """Close the journal with its status and verdict."""
        self.data.update(status=status, end=now_iso(), duration=round(self.elapsed(), 3))
        self.data["deviated"] = not passed
        self.data["exitplan"]["verdict"] = {"passed": passed, "summary": summary}
        self.save()


def _plain(value: Any) -> Any:
    try:
        json.dumps(value)
        return value
    except TypeError:
        return str(value)
