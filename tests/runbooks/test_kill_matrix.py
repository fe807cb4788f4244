"""Recoverable at every step (issue 15 item 5): the load worker dies with its parent; two drills
started at once, exactly one runs; the drill SIGKILLed at representative kill points (cutover
applied, credentials revoked, mid-rollback) and rolled back from its journal leaves weights,
credentials and processes as they were; SIGTERM mid-drill rolls back and exits 130. The whole
matrix (every journal write) is `make soak` (bench/kill_matrix.py)."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from bench import kill_matrix as km
from components.stack_config import Project
from runbooks.drills.lock import lock_path, process_start
from sandbox.target import SandboxTarget
from tests.conftest import sandbox_fixtures

# latency- and timing-sensitive sandbox modules run one after another on one worker
pytestmark = pytest.mark.xdist_group("sandbox-timing")

project_fixture, target_fixture = sandbox_fixtures(
    "kill-matrix-project", ["aws-primary", "gcp-standby"]
)

# A parent that starts a load worker (against a closed port: its requests fail fast), prints
# the worker's pid, and waits to be killed.
PARENT = """
import json, os, subprocess, sys, time
from pathlib import Path
folder = Path(sys.argv[1])
spec = folder / "load-request.json"
spec.write_text(json.dumps({"url": "http://127.0.0.1:9/v2/models/m/infer", "body": "{}",
    "headers": {}, "rate": 5, "duration_s": 120, "parent_pid": os.getpid()}))
worker = subprocess.Popen([sys.executable, "-m", "runbooks.load.worker", str(spec),
    str(folder / "load-records.jsonl")])
print(worker.pid, flush=True)
time.sleep(120)
"""

# A parent whose child arms only the watchdog (no prctl): the fallback on its own.
WATCHDOG_ONLY = """
import os, subprocess, sys, time
child = subprocess.Popen([sys.executable, "-c",
    "import os, time; from runbooks.load.worker import watch_parent; "
    "watch_parent(os.getppid()); time.sleep(120)"])
print(child.pid, flush=True)
time.sleep(120)
"""


def orphan_after_parent_killed(code: str, *args: str) -> tuple[int, bool]:
    """Run `code` as a parent that prints its child's pid; SIGKILL the parent; the child's pid
    and whether the child was gone within 2 s."""
    parent = subprocess.Popen([sys.executable, "-c", code, *args], stdout=subprocess.PIPE)
    assert parent.stdout is not None
    child = int(parent.stdout.readline())
    time.sleep(1.0)  # the child is up, its parent-death arrangements made
    assert process_start(child) is not None, "the child runs while its parent does"
    os.kill(parent.pid, signal.SIGKILL)
    parent.wait(timeout=10)
    killed_at = time.monotonic()
    gone = km.wait_for(lambda: process_start(child) is None, 2.0)
    assert time.monotonic() - killed_at < 2.5
    return child, gone


def test_the_load_worker_dies_with_its_parent(tmp_path: Path) -> None:
    worker, gone = orphan_after_parent_killed(PARENT, str(tmp_path))
    if not gone:
        os.kill(worker, signal.SIGKILL)
    assert gone, "the load worker outlived its SIGKILLed parent by more than 2 s"
    assert (tmp_path / "load-records.start").exists(), "it was running its load"


def test_the_parent_watchdog_alone_ends_an_orphan(tmp_path: Path) -> None:
    child, gone = orphan_after_parent_killed(WATCHDOG_ONLY)
    if not gone:
        os.kill(child, signal.SIGKILL)
    assert gone, "the watchdog did not end the orphan within 2 s"


def assert_ok(row: km.KillPoint) -> None:
    """A kill point that left everything as it was, saying what did not."""
    assert row.killed, f"never reached {row.point!r}: {row.step}"
    assert row.left_changed, f"the kill at {row.point!r} should leave the target changed"
    assert row.rollback_exit == 0, row.detail
    assert row.idempotent, "a second rollback found something left to restore"
    assert row.as_before, row.detail
    assert not row.strays, f"processes left behind: {row.strays}"
    assert row.lock_free


def test_two_drills_at_once_exactly_one_runs_and_its_kill_at_cutover_is_undone(
    target: SandboxTarget, project: Project, tmp_path: Path
) -> None:
    before = km.snapshot(target)
    started = time.monotonic()
    point = "cutover applied"
    first, second = (km.drill_victim(point, project.root, tmp_path / n) for n in ("a", "b"))
    deadline = time.monotonic() + 60
    while first.poll() is None and second.poll() is None and time.monotonic() < deadline:
        time.sleep(0.05)
    refused, ran = (first, second) if first.poll() is not None else (second, first)
    _, stderr = refused.communicate(timeout=10)
    assert refused.returncode == 2, stderr
    assert f"in use by pid {ran.pid} (drill exit-plan --from aws-primary" in stderr
    assert not (tmp_path / ("a" if refused is first else "b") / "journal.json").exists()
    out = tmp_path / ("b" if refused is first else "a")
    row = km.roll_back_and_check(point, ran, project.root, target, before, out, started)
    assert_ok(row)
    assert "weights {'aws-primary': 100, 'gcp-standby': 0}" in row.restored


@pytest.mark.parametrize(
    "point", ["credentials revoked", "mid-rollback (key rotated, weights not back)"]
)
def test_a_drill_killed_at_a_step_is_undone_from_its_journal(
    target: SandboxTarget, project: Project, tmp_path: Path, point: str
) -> None:
    key_before = target.credential_state("aws-primary")["key_id"]
    row = km.kill_drill_at(point, project.root, target, tmp_path)
    assert_ok(row)
    assert "credentials of aws-primary" in row.restored  # killed before its redeploy ran
    assert "weights {'aws-primary': 100, 'gcp-standby': 0}" in row.restored
    assert ("revoke" if point == "credentials revoked" else "rollback rotate") in row.step
    assert target.credential_state("aws-primary")["key_id"] != key_before, "a new key serves"


def test_sigterm_mid_drill_rolls_back_and_exits_130(
    target: SandboxTarget, project: Project, tmp_path: Path
) -> None:
    before = km.snapshot(target)
    args = ["drill", "exit-plan", *km.DRILL, "--out", str(tmp_path)]
    drill = subprocess.Popen(
        [km.EXITPLAN, *args, "--project", str(project.root)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
    )
    journal = tmp_path / "journal.json"

    def cutover() -> bool:
        try:
            return km.POINTS["cutover applied"](json.loads(journal.read_text()))
        except (OSError, ValueError):
            return False

    assert km.wait_for(cutover, 60), "the drill never reached the cutover"
    drill.send_signal(signal.SIGTERM)
    _, stderr = drill.communicate(timeout=60)
    assert drill.returncode == 130, stderr
    data = json.loads(journal.read_text())
    assert data["status"] == "interrupted"
    assert "interrupted (SIGTERM); rolled back" in data["exitplan"]["verdict"]["summary"]
    assert all(c["restored"] is not False for c in data["exitplan"]["changes"])
    assert km.wait_for(lambda: km.snapshot(target) == before, km.SETTLE_S)
    assert km.wait_for(lambda: not km.strays(tmp_path), km.STRAY_S)
    assert not lock_path(project.root, "sandbox").exists()


@pytest.mark.parametrize(
    ("victim", "point"),
    [(km.DRILL_VICTIM, "cutover applied"), (km.chaos_victims()[0], "4")],
    ids=["drill", "chaos"],
)
@pytest.mark.parametrize("how", km.INTERRUPTS, ids=["dead-pipe", "hang-up"])
def test_an_interrupt_after_the_output_went_away_still_rolls_back(
    target: SandboxTarget,
    project: Project,
    tmp_path: Path,
    victim: km.Victim,
    point: str,
    how: km.Interrupt,
) -> None:
    """B1: `2>&1 | tee` killed by the same Ctrl-C, or the terminal gone before the hang-up:
    the run rolls back itself, finishes its journal and exits 130."""
    row = km.interrupt_at(victim, point, how, project.root, target, tmp_path)
    assert row.write is not None, f"never reached {point!r}"
    assert row.killed, f"{row.detail}\n{(tmp_path / 'victim.output').read_text()[-2000:]}"
    assert row.rollback_exit == 0
    assert row.idempotent, f"the run left {row.restored} for a rollback from its journal"
    assert row.as_before, row.detail
    assert not row.strays, f"processes left behind: {row.strays}"
    assert row.lock_free


def test_leftover_weights_refuse_a_drill_until_target_reset_on_the_sandbox(
    target: SandboxTarget, project: Project
) -> None:
    """B2, U6 on the real sandbox: 50/50 left by another run refuses the next drill (exit 1,
    naming the reset), `sandbox status` flags it, `target reset` restores the configured
    weights, and a second reset finds nothing to do."""
    target.set_weights({"aws-primary": 50, "gcp-standby": 50})
    where = ("--project", str(project.root))
    refused = km.exitplan("drill", "exit-plan", *km.DRILL, *where)
    assert refused.returncode == 1, refused.stderr
    assert "exitplan target reset --target sandbox" in refused.stderr
    status = km.exitplan("sandbox", "status", *where)
    assert "not as configured weights {'aws-primary': 50, 'gcp-standby': 50}" in status.stdout
    reset = km.exitplan("target", "reset", *where)
    assert reset.returncode == 0, reset.stderr
    assert target.weights() == {"aws-primary": 100, "gcp-standby": 0}
    again = km.exitplan("target", "reset", *where)
    assert "already in its configured state" in again.stdout
