"""Journals are written atomically and durably: a crash mid-write (os.replace failing) leaves the
old journal intact and no temp file behind; the data and the folder are fsynced before and
after the rename; every step of a journal is on disk when the step returns."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import pytest

from runbooks.reports.journal import Journal, write_atomic


def test_a_crash_mid_write_leaves_the_old_journal_intact(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = tmp_path / "journal.json"
    write_atomic(path, {"status": "running", "step": 1})

    def crash(src: str, dst: str) -> None:
        raise OSError("disk gone")  # the process dies between the temp file and the rename

    monkeypatch.setattr(os, "replace", crash)
    with pytest.raises(OSError, match="disk gone"):
        write_atomic(path, {"status": "running", "step": 2})
    assert json.loads(path.read_text()) == {"status": "running", "step": 1}
    assert [p.name for p in tmp_path.iterdir()] == ["journal.json"], "no temp file left"


def test_the_file_and_its_folder_are_fsynced_around_the_rename(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    events: list[tuple[str, Any]] = []
    real_fsync, real_replace = os.fsync, os.replace

    def fsync(fd: int) -> None:
        events.append(("fsync", Path(os.readlink(f"/proc/self/fd/{fd}")).name))
        real_fsync(fd)

    def replace(src: str, dst: str) -> None:
        events.append(("replace", Path(dst).name))
        real_replace(src, dst)

    monkeypatch.setattr(os, "fsync", fsync)
    monkeypatch.setattr(os, "replace", replace)
    folder = tmp_path / "new-folder"
    write_atomic(folder / "journal.json", "text as it is")
    assert (folder / "journal.json").read_text() == "text as it is"
    [(_, temp), *rest] = events
    assert temp.startswith(".journal.json.") and temp.endswith(".tmp"), "the data, first"
    assert rest == [("replace", "journal.json"), ("fsync", "new-folder")]


def test_a_journal_is_on_disk_after_every_step(tmp_path: Path) -> None:
    path = tmp_path / "journal.json"
    journal = Journal.new(path, "a -> b", {"from": "a", "to": "b"})
    assert json.loads(path.read_text())["status"] == "running"

    def action() -> str:
        on_disk = json.loads(path.read_text())
        assert on_disk["run"][-1]["status"] == "running", "journaled before it acts"
        return "done"

    journal.change("weights", "canary 10%", before={"a": 100}, after={"a": 90, "b": 10})
    assert json.loads(path.read_text())["exitplan"]["changes"][0]["restored"] is False
    journal.activity("set weights", "action", action)
    assert json.loads(path.read_text())["run"][-1]["status"] == "succeeded"
    with pytest.raises(KeyboardInterrupt):
        journal.activity("hold", "action", _interrupted)
    assert json.loads(path.read_text())["run"][-1]["status"] == "failed"
    assert Journal.load(path).data == journal.data


def _interrupted() -> None:
    raise KeyboardInterrupt
