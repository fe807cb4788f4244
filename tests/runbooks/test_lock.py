"""One lock per target: taken atomically by exactly one of many processes started at once,
refused naming the holder (exit 2), released by the kernel when its holder is SIGKILLed and
then taken over with a message, a reused pid told apart by its start time; `drill rollback`
refuses while a run holds the lock."""

from __future__ import annotations

import fcntl
import json
import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

from runbooks.drills.lock import Holder, TargetLock, TargetLocked, lock_path, process_start
from runbooks.errors import RunbookError

EXITPLAN = str(Path(sys.executable).parent / "exitplan")

# A process that waits for GO to exist, then tries the lock and holds it for HOLD seconds;
# prints "took" or "refused" (and the refusal).
CONTENDER = """
import sys, time
from pathlib import Path
from runbooks.drills.lock import TargetLock, TargetLocked
root, go, hold = Path(sys.argv[1]), Path(sys.argv[2]), float(sys.argv[3])
while not go.exists():
    time.sleep(0.001)
try:
    with TargetLock("sandbox", root, "contender"):
        print("took", flush=True)
        time.sleep(hold)
except TargetLocked as exc:
    print("refused", exc.cause, flush=True)
"""


def contender(root: Path, go: Path, hold: float) -> subprocess.Popen[str]:
    """A process that takes the sandbox lock once `go` exists and holds it `hold` seconds."""
    args = [sys.executable, "-c", CONTENDER, str(root), str(go), str(hold)]
    return subprocess.Popen(args, stdout=subprocess.PIPE, text=True)


def test_of_many_processes_started_at_once_exactly_one_takes_the_lock(tmp_path: Path) -> None:
    go = tmp_path / "go"
    procs = [contender(tmp_path, go, hold=1.0) for _ in range(6)]
    time.sleep(1.0)  # every interpreter is up and polling for `go`
    go.touch()
    outputs = [p.communicate(timeout=30)[0] for p in procs]
    took = [o for o in outputs if o.startswith("took")]
    refused = [o for o in outputs if o.startswith("refused")]
    assert len(took) == 1 and len(refused) == 5, outputs
    assert all("in use by pid" in o and "(contender, since" in o for o in refused), refused
    assert not lock_path(tmp_path, "sandbox").exists(), "a clean release removes the file"


def test_a_held_lock_refuses_naming_the_holder_and_exits_2(tmp_path: Path) -> None:
    with TargetLock("sandbox", tmp_path, "drill exit-plan --from a --to b"):
        record = json.loads(lock_path(tmp_path, "sandbox").read_text())
        assert record["pid"] == os.getpid() and record["start"] == process_start(os.getpid())
        with pytest.raises(TargetLocked) as caught, TargetLock("sandbox", tmp_path, "other"):
            pass  # never reached: the same process's second lock is refused too
    assert caught.value.exit_code == 2
    assert f"in use by pid {os.getpid()} (drill exit-plan --from a --to b" in caught.value.cause
    assert "kill" in caught.value.fix
    with TargetLock("live", tmp_path, "other target"), TargetLock("sandbox", tmp_path, "again"):
        pass  # one lock per target: another target's is independent, a released one free


def test_the_lock_of_a_sigkilled_run_is_taken_over_with_a_message(tmp_path: Path) -> None:
    go = tmp_path / "go"
    go.touch()
    holder = contender(tmp_path, go, hold=60)
    assert holder.stdout is not None and holder.stdout.readline().startswith("took")
    with pytest.raises(TargetLocked):
        TargetLock("sandbox", tmp_path, "too early").acquire()
    os.kill(holder.pid, signal.SIGKILL)
    holder.wait(timeout=10)
    assert lock_path(tmp_path, "sandbox").exists(), "the dead run's record stays"
    notices: list[str] = []
    with TargetLock("sandbox", tmp_path, "drill rollback j.json", notices.append) as lock:
        assert lock.taken_over is not None and lock.taken_over.pid == holder.pid
    assert len(notices) == 1
    assert f"took over the sandbox lock from pid {holder.pid} (contender" in notices[0]
    assert f"pid {holder.pid} is gone" in notices[0]


def test_a_reused_pid_is_told_apart_by_its_start_time(tmp_path: Path) -> None:
    """A record naming a live pid (ours) with another start time is a dead run's: taken over,
    saying the pid now belongs to another process."""
    me = Holder.this_process("old run")
    reused = Holder(me.pid, (me.start or 0) - 100, "old run", me.since)
    assert me.running() and not reused.running()
    path = lock_path(tmp_path, "sandbox")
    path.parent.mkdir(parents=True)
    path.write_text(json.dumps(reused.__dict__))
    notices: list[str] = []
    with TargetLock("sandbox", tmp_path, "new run", notices.append):
        pass
    assert "now belongs to another process (started at another time)" in notices[0]


def test_process_start_reads_field_22_and_is_none_when_gone() -> None:
    child = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(30)"])
    try:
        start = process_start(child.pid)
        stat = Path(f"/proc/{child.pid}/stat").read_text()
        assert start is not None and start == int(stat.rsplit(")", 1)[1].split()[19])
        assert start >= process_start(os.getpid())  # type: ignore[operator]
    finally:
        child.kill()
        child.wait()
    assert process_start(child.pid) is None


def test_a_target_name_cannot_leave_the_locks_folder(tmp_path: Path) -> None:
    for bad in ("../x", "", "a/b"):
        with pytest.raises(RunbookError) as caught:
            lock_path(tmp_path, bad)
        assert "not a target name" in caught.value.cause


def test_drill_rollback_is_refused_while_a_run_holds_the_target(tmp_path: Path) -> None:
    """`exitplan drill rollback` during a drill: exit 2 naming the drill, nothing touched (the
    journal names a target that is not running: the refusal comes first)."""
    (tmp_path / "Pulumi.yaml").write_text("name: exitplan\nruntime: python\n")
    journal = tmp_path / "journal.json"
    data = {"run": [], "exitplan": {"target": "sandbox", "from": "a", "to": "b", "changes": []}}
    journal.write_text(json.dumps(data))
    before = journal.read_text()
    with TargetLock("sandbox", tmp_path, "drill exit-plan --from a --to b"):
        args = [EXITPLAN, "drill", "rollback", str(journal), "--project", str(tmp_path)]
        result = subprocess.run(args, capture_output=True, text=True, check=False)
    assert result.returncode == 2, result.stderr
    assert f"in use by pid {os.getpid()}" in result.stderr and "drill exit-plan" in result.stderr
    assert journal.read_text() == before


def test_a_refusal_waits_a_moment_for_a_fresh_holder_to_write_its_record(tmp_path: Path) -> None:
    """Between a holder's flock and its record there is an instant with an empty file: a run
    refused then still names the holder (it waits for the record), rather than 'being taken'."""
    path = lock_path(tmp_path, "sandbox")
    path.parent.mkdir(parents=True)
    fd = os.open(path, os.O_RDWR | os.O_CREAT)
    fcntl.flock(fd, fcntl.LOCK_EX)  # held, no record yet
    record = Holder(12345, None, "drill exit-plan --from a --to b", "2026-11-30T00:00:00+00:00")
    timer = threading.Timer(0.2, lambda: path.write_text(json.dumps(record.__dict__)))
    timer.start()
    try:
        with pytest.raises(TargetLocked) as caught:
            TargetLock("sandbox", tmp_path, "second").acquire()
    finally:
        timer.join()
        os.close(fd)
    assert caught.value.holder == record
    assert "pid 12345 (drill exit-plan --from a --to b" in caught.value.cause
