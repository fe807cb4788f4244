"""The journal of the chaos run in progress, on disk after every step, so that a run killed at
any point (SIGKILL included) can be undone from it (`exitplan chaos rollback JOURNAL`).

The exitplan control (`chaos/control.py`) starts a `Recording` when Chaos Toolkit configures it,
under `exitplan chaos run` and the upstream `chaos run` alike, and registers it as a run event
handler: Chaos Toolkit's own journal object is written atomically (`write_atomic`: temp file,
fsync, rename, fsync of the folder) when the run starts, when each activity starts (the entry
is in the journal before the activity acts: write-ahead) and ends, and after each phase.

Before the method, the control records the target's state (`before`: weights, health and
credentials of every stack, the target kind, the project) in the journal's `exitplan` section:
rollbacks restore the weights found there, never weights written in the experiment.

The journal goes to the configuration's `exitplan_journal` (set by `exitplan chaos run`; with
`chaos run`, pass `--var exitplan_journal=PATH`), else to
`.exitplan/chaos/<time>-<title>/journal.json` under the project."""

from __future__ import annotations

import datetime as dt
import json
import logging
import re
import threading
import time
from pathlib import Path
from typing import Any

from chaoslib import substitute
from chaoslib.run import RunEventHandler
from chaoslib.types import Activity, Configuration, Experiment, Journal, Run

from runbooks.reports.journal import write_atomic
from runbooks.targets.target import Target

__all__ = [
    "Recording",
    "activity_start",
    "current",
    "journal_path",
    "snapshot",
    "start",
    "state_before",
]
logger = logging.getLogger("chaostoolkit")
_CURRENT: dict[str, Recording | None] = {"run": None}
SAVE_TRIES = 5  # a background activity may change the journal while it is serialized


def journal_path(configuration: Configuration, title: str) -> Path:
    """Where this run's journal goes: `exitplan_journal`, else a new folder under the
    project's `.exitplan/chaos/`."""
    configured = (configuration or {}).get("exitplan_journal")
    if configured:
        return Path(str(configured))
    from runbooks.targets.target import project

    slug = re.sub(r"[^a-z0-9]+", "-", title.lower()).strip("-")[:40] or "experiment"
    stamp = time.strftime("%Y%m%dT%H%M%S")
    root = project((configuration or {}).get("exitplan_project")).root
    return root / ".exitplan" / "chaos" / f"{stamp}-{slug}" / "journal.json"


def snapshot(target: Target) -> dict[str, Any]:
    """The target's state a rollback restores: the router's weights, each stack's health and
    the state of each stack's store credentials (`unknown: why` where it cannot be read)."""
    credentials: dict[str, dict[str, str]] = {}
    for stack in target.stacks():
        try:
            credentials[stack] = dict(target.credential_state(stack))
        except Exception as exc:  # a target that cannot read it (a live identity): recorded
            credentials[stack] = {"status": f"unknown: {exc}"}
    return {
        "weights": dict(target.weights()),
        "health": {stack: target.health(stack) for stack in target.stacks()},
        "credentials": credentials,
    }


class Recording(RunEventHandler):
    """Chaos Toolkit's journal of one run, saved at `path` after every event."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.journal: Journal | None = None
        self.holds_target = False  # the lock is held and the state before recorded
        self._mutex = threading.Lock()

    @property
    def exitplan(self) -> dict[str, Any]:
        """The journal's `exitplan` section (created on first use)."""
        if self.journal is None:
            raise RuntimeError("the run has not started")
        section: dict[str, Any] = self.journal.setdefault("exitplan", {})
        return section

    def save(self) -> None:
        """Write the journal now (atomically); a no-op before the run starts."""
        if self.journal is None:
            return
        with self._mutex:
            for attempt in range(SAVE_TRIES):
                try:
                    text = json.dumps(self.journal, indent=2, default=str) + "\n"
                    break
                except RuntimeError:  # changed while serialized (a background activity)
                    if attempt == SAVE_TRIES - 1:
                        raise
            write_atomic(self.path, text)

    def record_before(self, target: Target, configuration: Configuration) -> None:
        """Record, before anything changes, the target and its state (`snapshot`)."""
        from runbooks.targets.target import project

        self.exitplan["before"] = {
            "at": dt.datetime.now(dt.UTC).isoformat(timespec="milliseconds"),
            "target": target.kind,
            "project": str(project((configuration or {}).get("exitplan_project")).root),
            "router": (configuration or {}).get("exitplan_router"),
            **snapshot(target),
        }
        self.holds_target = True
        self.save()

    # RunEventHandler: every event writes the journal
    def running(self, experiment: Experiment, journal: Journal, *args: Any) -> None:
        """The run starts: bind Chaos Toolkit's journal object and write it."""
        self.journal = journal
        self.exitplan["journal"] = str(self.path)
        self.save()
        logger.info(f"exitplan journal (written after every step): {self.path}")

    def start_activity(self, activity: Activity) -> None:
        """Write-ahead: the activity is in the journal before it acts."""
        self.save()

    def activity_completed(self, activity: Activity, run: Run) -> None:
        """An activity ended."""
        self.save()

    def hypothesis_before_completed(self, *args: Any) -> None:
        """The steady state before the method is known."""
        self.save()

    def hypothesis_after_completed(self, *args: Any) -> None:
        """The steady state after the method is known."""
        self.save()

    def method_completed(self, *args: Any) -> None:
        """The method ended."""
        self.save()

    def rollbacks_completed(self, *args: Any) -> None:
        """The rollbacks ended."""
        self.save()

    def interrupted(self, *args: Any) -> None:
        """A control or a stop condition interrupted the run."""
        self.save()

    def finish(self, journal: Journal) -> None:
        """The run is over: the final journal."""
        self.journal = journal
        self.save()
        if _CURRENT["run"] is self:
            _CURRENT["run"] = None


def start(configuration: Configuration, experiment: Experiment) -> Recording:
    """A recording for the run about to start, made the current one."""
    title = str(substitute(experiment.get("title", "experiment"), configuration or {}, {}))
    path = journal_path(configuration, title)
    path.parent.mkdir(parents=True, exist_ok=True)
    recording = Recording(path)
    _CURRENT["run"] = recording
    return recording


def current() -> Recording | None:
    """The recording of the run in progress in this process, if any."""
    return _CURRENT["run"]


def state_before() -> dict[str, Any]:
    """The target's state recorded before the run in progress; raises when none was."""
    recording = current()
    before = (
        None
        if recording is None or recording.journal is None
        else (recording.exitplan.get("before"))
    )
    if not before:
        raise RuntimeError(
            "no state was recorded before this run (run it with the exitplan control "
            "`chaos.control` declared in the experiment's controls)"
        )
    result: dict[str, Any] = before
    return result


def _stack_of(run: Run, configuration: Configuration) -> Any:
    provider = run["activity"].get("provider") or {}
    return substitute(provider.get("arguments") or {}, configuration or {}, {}).get("stack")


def activity_start(func: str, stack: str, configuration: Configuration = None) -> float | None:
    """When (epoch seconds) the run in progress last started activity `func` on `stack`."""
    recording = current()
    if recording is None or recording.journal is None:
        return None
    for run in reversed(recording.journal.get("run") or []):
        provider = run["activity"].get("provider") or {}
        if provider.get("func") == func and _stack_of(run, configuration) == stack:
            return dt.datetime.fromisoformat(run["start"]).timestamp()
    return None
