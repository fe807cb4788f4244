"""Kill matrix: a run that changes the target (the exit-plan drill, every chaos experiment),
SIGKILLed at every step, then rolled back from its journal, must leave weights, credentials and
processes as they were.

A step is a journal write: the drill and the chaos runs write their journals after every step
(each change recorded before it is made), so killing a run right after its n-th write, for
every n, kills it at every step. The victim is `exitplan` itself, started through
`victim_args`: before the CLI runs, `arm` wraps the project's one atomic writer so that the
victim SIGKILLs itself right after the chosen journal write reaches the disk (a number, or the
first write where a named kill point of POINTS holds: drill points). Point "0" kills nothing
and records the step each write ends, which lists the matrix. After each kill: `exitplan drill
rollback JOURNAL` or `exitplan chaos rollback JOURNAL` (then once more: nothing left to do),
and the target must match its snapshot from before the run: weights, every stack healthy and
in rotation, each stack's credential status, every sandbox process running, no process left
that names the run's folder (its load worker), the target's lock free.

`make soak` runs the whole matrix on a sandbox of its own, prints a table, writes
bench/results/kill_matrix.json and exits 1 unless N of N kill points pass; `make test` runs
representative points (tests/runbooks/test_kill_matrix.py)."""

from __future__ import annotations

import argparse
import json
import os
import platform
import pty
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
# bench/packaging.py is named like the PyPI `packaging` module: keep this folder off the path.
sys.path[:] = [p for p in sys.path if Path(p or ".").resolve() != ROOT / "bench"]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

EXITPLAN = str(Path(sys.executable).parent / "exitplan")
RESULTS = ROOT / "bench" / "results" / "kill_matrix.json"
STACKS = ("aws-primary", "gcp-standby")
# A short drill at a low rate: every step, short holds (the drill's minimum is 0.5 s).
DRILL = ["--from", "aws-primary", "--to", "gcp-standby", "--rate", "40", "--canary", "10,100"]
DRILL += ["--hold", "1", "--baseline-factor", "10"]
STOP = "stop:"
SETTLE_S = 20.0  # after a rollback, the front door marks a redeployed stack up again within this
STRAY_S = 2.0  # a killed run's load worker is gone within this


@dataclass(frozen=True)
class Victim:
    """A run the matrix kills: its `exitplan` arguments (without --out and --project), the
    command that rolls it back from its journal, and the stacks of the sandbox it runs on."""

    name: str
    args: tuple[str, ...]
    rollback: tuple[str, ...]
    stacks: tuple[str, ...] = STACKS


DRILL_VICTIM = Victim(
    "drill aws-primary -> gcp-standby", ("drill", "exit-plan", *DRILL), ("drill", "rollback")
)


def chaos_victims() -> list[Victim]:
    """Every chaos experiment, at a low rate, rolled back by `exitplan chaos rollback`."""
    experiments = sorted((ROOT / "chaos" / "experiments").glob("*.yaml"))
    return [
        Victim(f"chaos {p.stem}", ("chaos", "run", str(p), "--rate", "10"), ("chaos", "rollback"))
        for p in experiments
    ]


# The victim: arm the kill point, then run the CLI with the remaining arguments.
CHILD = (
    "import sys; sys.path.insert(0, sys.argv[1]); from pathlib import Path; "
    "from bench.kill_matrix import arm; arm(sys.argv[2], Path(sys.argv[3])); "
    "sys.argv = ['exitplan', *sys.argv[4:]]; from runbooks.cli import main; main()"
)

Journal = dict[str, Any]


def _activities(journal: Journal, prefix: str, section: str = "run") -> list[Journal]:
    """The activities of `section` (run or rollbacks) whose name starts with `prefix`."""
    return [a for a in journal[section] if a["activity"]["name"].startswith(prefix)]


def _moved_to(journal: Journal, low: int, high: int) -> bool:
    """Whether the last weight change put between `low` and `high` % on --to, and is done."""
    changes = [c for c in journal["exitplan"]["changes"] if c["what"] == "weights"]
    done = _activities(journal, "set weights")
    if not changes or len(done) != len(changes) or done[-1]["status"] != "succeeded":
        return False
    return low <= changes[-1]["after"].get(journal["exitplan"]["to"], 0) <= high


def _revoked(journal: Journal) -> bool:
    return any(a["status"] == "succeeded" for a in _activities(journal, "revoke"))


def _done(journal: Journal, prefix: str, section: str = "run") -> bool:
    """Whether the last activity named `prefix...` in `section` succeeded."""
    found = _activities(journal, prefix, section)
    return bool(found) and found[-1]["status"] == "succeeded"


def _changed(journal: Journal, what: str) -> bool:
    return any(c["what"] == what for c in journal["exitplan"]["changes"])


def _standby_scaled(journal: Journal) -> bool:
    """A failover drill: the primary killed and the standby started, no weight moved yet."""
    return _done(journal, "scale ") and not _changed(journal, "weights")


# The failover drill's phases (kill points named "failover: ..."): the standby set to the
# drill's level; the primary SIGKILLed; the standby scaled; all weight on the standby; the
# drill's own rollback with the primary restarted but the weights and level not yet back.
FAILOVER_POINTS: dict[str, Callable[[Journal], bool]] = {
    "failover: standby at the drill's level": lambda j: (
        _done(j, "set ") and not _changed(j, "killed")
    ),
    "failover: primary killed, nothing scaled": lambda j: (
        _done(j, "kill ") and not _activities(j, "scale ")
    ),
    "failover: standby scaled, before rotation": _standby_scaled,
    "failover: all weight on the standby": lambda j: _done(j, "set weights") and not j["rollbacks"],
    "failover: rollback begun, primary restarted": lambda j: _done(j, "restart ", "rollbacks"),
}
FAILOVER_VICTIM = Victim(
    "drill failover aws-primary -> azure-standby",
    ("drill", "failover", "--from", "aws-primary", "--to", "azure-standby", "--rate", "20"),
    ("drill", "rollback"),
    # a sandbox of its own: a pilot-light stack fails the experiments' every-stack-healthy
    # steady state, so they would end before their method
    ("aws-primary", "azure-standby"),
)

# Named kill points: the victim dies right after the first journal write where one holds.
POINTS: dict[str, Callable[[Journal], bool]] = {
    **FAILOVER_POINTS,
    "canary applied": lambda j: _moved_to(j, 1, 99),
    "cutover applied": lambda j: _moved_to(j, 100, 100),
    "credentials revoked": _revoked,
    "mid-rollback (key rotated, weights not back)": lambda j: _done(j, "rotate", "rollbacks"),
}


def arm(point: str, sidecar: Path) -> None:
    """In the victim, before the CLI runs: SIGKILL this process right after the journal write
    `point` names (1-based number, or a name of POINTS), writing that write's step to `sidecar`
    first (with the prefix "stop:", SIGSTOP it there instead); point "0" kills nothing and
    appends every write's step to `sidecar` (one JSON line each)."""
    from runbooks.reports import files

    real = files.write_atomic
    seen: list[Journal] = []

    def write(path: Path, text: str, mode: int = 0o644) -> None:
        real(path, text, mode)
        if path.name != "journal.json":
            return
        journal = json.loads(text)
        step = what_changed(seen[-1] if seen else None, journal)
        seen.append(journal)
        if point == "0":
            with sidecar.open("a") as out:
                out.write(json.dumps({"write": len(seen), "step": step}) + "\n")
            return
        # "stop:N": stop (SIGSTOP) instead, for `interrupt_at` to take the output away and
        # interrupt the run there
        stop = point.startswith(STOP)
        at = point.removeprefix(STOP)
        if sidecar.exists():  # stopped once already: the run goes on (its rollback) unhindered
            return
        if at == str(len(seen)) or (at in POINTS and POINTS[at](journal)):
            sidecar.write_text(json.dumps({"write": len(seen), "step": step}))
            os.kill(os.getpid(), signal.SIGSTOP if stop else signal.SIGKILL)

    files.write_atomic = write


def what_changed(before: Journal | None, after: Journal) -> str:
    """The step a journal write records, for a person: what differs from the previous write
    (drill and Chaos Toolkit journals alike)."""
    if before is None:
        return "journal created (nothing changed yet)"
    said = []
    for section in ("run", "rollbacks"):
        old = {i: a.get("status") for i, a in enumerate(before.get(section) or [])}
        for i, entry in enumerate(after.get(section) or []):
            if old.get(i, "new") != entry.get("status"):
                prefix = "rollback " if section == "rollbacks" else ""
                name = (entry.get("activity") or {}).get("name")
                said.append(f"{prefix}{name}: {entry.get('status') or 'started'}")
    ours, theirs = before.get("exitplan") or {}, after.get("exitplan") or {}
    if "before" in theirs and "before" not in ours:
        said.append("target state recorded")
    old_changes = ours.get("changes", [])
    for i, change in enumerate(theirs.get("changes", [])):
        if i >= len(old_changes):
            said.append(f"journaled before acting: {change['detail']}")
        elif change["restored"] and not old_changes[i]["restored"]:
            said.append(f"marked restored: {change['detail']}")
    for key, label in (("phases", "phase measured"), ("gates", "gate")):
        for entry in theirs.get(key, [])[len(ours.get(key, [])) :]:
            said.append(f"{label} {entry.get('name', entry.get('step'))}")
    if after.get("status") != before.get("status"):
        said.append(f"status: {after.get('status')}")
    return "; ".join(said) or "saved"


def victim_args(point: str, out: Path, args: list[str]) -> list[str]:
    """The command line of `exitplan ARGS` killing itself at `point` (see `arm`), its kill
    record in out/kill-point.json."""
    return [sys.executable, "-c", CHILD, str(ROOT), point, str(out / "kill-point.json"), *args]


def start(victim: Victim, point: str, project_root: Path, out: Path) -> subprocess.Popen[str]:
    """Start `victim`, to die at `point`, writing under `out`."""
    out.mkdir(parents=True, exist_ok=True)
    args = [*victim.args, "--out", str(out), "--project", str(project_root)]
    return subprocess.Popen(
        victim_args(point, out, args),
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
    )


def drill_victim(point: str, project_root: Path, out: Path) -> subprocess.Popen[str]:
    """Start the matrix's exit-plan drill, to die at `point`, writing under `out`."""
    return start(DRILL_VICTIM, point, project_root, out)


def restored_by(result: subprocess.CompletedProcess[str]) -> list[str] | None:
    """What a rollback's --json says it did (drill: `restored`; chaos: its `steps`); None when
    it failed."""
    if result.returncode != 0:
        return None
    data = json.loads(result.stdout)
    if isinstance(data.get("restored"), list):
        return list(data["restored"])
    return [f"{s['what']} {s.get('stack') or ''}".strip() for s in data["steps"]]


def snapshot(target: Any) -> dict[str, Any]:
    """What a run must leave as it found it: weights, health and rotation of every stack, each
    stack's credential status, and whether each sandbox process runs (a chaos run's restart
    gives a killed Triton a new pid)."""
    stacks = target.stacks()
    state = target.sandbox.load_state()
    return {
        "weights": target.weights(),
        "healthy": {s: target.health(s) for s in stacks},
        "in_rotation": {s: target.in_rotation(s) for s in stacks},
        "credentials": {s: target.credential_state(s)["status"] for s in stacks},
        "processes": {c.name: c.running() for c in state.components},
    }


def strays(out: Path) -> list[int]:
    """Processes whose command line names `out` (a killed run's load worker), but this one."""
    found = []
    for proc in Path("/proc").iterdir():
        if not proc.name.isdigit() or int(proc.name) == os.getpid():
            continue
        try:
            cmdline = (proc / "cmdline").read_bytes().replace(b"\0", b" ").decode()
            state = (proc / "stat").read_text().rsplit(")", 1)[1].split()[0]
        except OSError:
            continue
        if str(out) in cmdline and state != "Z":
            found.append(int(proc.name))
    return found


def wait_for(check: Callable[[], bool], timeout_s: float) -> bool:
    """Poll `check` until it holds or `timeout_s` passes; whether it held."""
    deadline = time.monotonic() + timeout_s
    while True:
        if check():
            return True
        if time.monotonic() > deadline:
            return False
        time.sleep(0.2)


CLI_TIMEOUT_S = 300.0  # a rollback or a check that runs longer has hung: fail, never wait on


def exitplan(*args: str) -> subprocess.CompletedProcess[str]:
    """Run the CLI; the caller checks the exit status (TimeoutExpired, the CLI killed, after
    CLI_TIMEOUT_S: a test point fails instead of hanging the run)."""
    return subprocess.run(
        [EXITPLAN, *args], capture_output=True, text=True, check=False, timeout=CLI_TIMEOUT_S
    )


@dataclass
class KillPoint:
    """One kill and its rollback."""

    point: str
    write: int | None
    step: str
    killed: bool
    left_changed: bool
    rollback_exit: int
    restored: list[str]
    idempotent: bool
    as_before: bool
    strays: list[int]
    lock_free: bool
    seconds: float
    detail: str = ""

    @property
    def ok(self) -> bool:
        """Killed, rolled back, safe to roll back twice, everything as before, nothing left."""
        return (
            self.killed
            and self.rollback_exit == 0
            and self.idempotent
            and self.as_before
            and not self.strays
            and self.lock_free
        )


def settle(victim: subprocess.Popen[str], out: Path, timeout_s: float = 180) -> bool:
    """Wait for the victim (its stderr kept in out/victim.stderr); whether it died of SIGKILL
    (rather than finishing first)."""
    _, stderr = victim.communicate(timeout=timeout_s)
    (out / "victim.stderr").write_text(stderr or "")
    return victim.returncode == -signal.SIGKILL


def roll_back_and_check(
    point: str,
    victim: subprocess.Popen[str],
    project_root: Path,
    target: Any,
    before: dict[str, Any],
    out: Path,
    started: float,
    undo: tuple[str, ...] = DRILL_VICTIM.rollback,
) -> KillPoint:
    """After the victim ends: roll its journal back with `undo` (twice), then compare the
    target with `before` and look for what the run left behind."""
    from runbooks.drills.lock import lock_path

    killed = settle(victim, out)
    left = [] if wait_for(lambda: not strays(out), STRAY_S) else strays(out)
    record = json.loads((out / "kill-point.json").read_text()) if killed else {}
    left_changed = snapshot(target) != before
    rollback = [*undo, str(out / "journal.json"), "--project", str(project_root), "--json"]
    first = exitplan(*rollback)
    restored = restored_by(first) or []
    again = restored_by(exitplan(*rollback))
    as_before = wait_for(lambda: snapshot(target) == before, SETTLE_S)
    after = snapshot(target)
    detail = "" if as_before else json.dumps({"before": before, "after": after}, default=str)
    if first.returncode:
        detail += first.stderr[-800:]
    return KillPoint(
        point=point,
        write=record.get("write"),
        step=record.get("step", "not killed: the run ended first"),
        killed=killed,
        left_changed=left_changed,
        rollback_exit=first.returncode,
        restored=restored,
        idempotent=again == [],
        as_before=as_before,
        strays=left,
        lock_free=not lock_path(project_root, "sandbox").exists(),
        seconds=round(time.monotonic() - started, 1),
        detail=detail,
    )


def kill_at(victim: Victim, point: str, project_root: Path, target: Any, out: Path) -> KillPoint:
    """`victim` SIGKILLed at `point`, then rolled back from its journal and checked."""
    before = snapshot(target)
    started = time.monotonic()
    run = start(victim, point, project_root, out)
    return roll_back_and_check(
        point, run, project_root, target, before, out, started, victim.rollback
    )


def kill_drill_at(point: str, project_root: Path, target: Any, out: Path) -> KillPoint:
    """The drill SIGKILLed at `point`, then rolled back from its journal and checked."""
    return kill_at(DRILL_VICTIM, point, project_root, target, out)


@dataclass(frozen=True)
class Interrupt:
    """A run's output gone, then a signal: a pipe whose reader exited (`2>&1 | tee` killed by
    the same Ctrl-C) or a terminal that went away (a pseudo-terminal whose reader closed it,
    then the hang-up)."""

    name: str
    signum: int
    terminal: bool


DEAD_PIPE = Interrupt("dead pipe, Ctrl-C", signal.SIGINT, terminal=False)
HANG_UP = Interrupt("terminal gone, SIGHUP", signal.SIGHUP, terminal=True)
INTERRUPTS = (DEAD_PIPE, HANG_UP)


def process_state(pid: int) -> str | None:
    """A process's state letter (R, S, T for stopped, Z), None when it is gone."""
    try:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except (OSError, IndexError):
        return None


def interrupt_at(
    victim: Victim, point: str, how: Interrupt, project_root: Path, target: Any, out: Path
) -> KillPoint:
    """`victim` with its stdout and stderr on a pipe or a pseudo-terminal read by `cat`: stopped
    at `point`, its reader killed (the output gone), then interrupted by `how`'s signal. The run
    must roll back itself and exit 130, its journal finished and nothing left for a rollback
    from it to do (the row's `killed`: interrupted and finished; `left_changed`: the rollback
    from its journal found something), the target as before, no process left, the lock free."""
    from runbooks.drills.lock import lock_path

    before = snapshot(target)
    started = time.monotonic()
    out.mkdir(parents=True, exist_ok=True)
    args = [*victim.args, "--out", str(out), "--project", str(project_root)]
    read_end, write_end = pty.openpty() if how.terminal else os.pipe()
    with (out / "victim.output").open("wb") as log:
        reader = subprocess.Popen(["cat"], stdin=read_end, stdout=log)
    run = subprocess.Popen(
        victim_args(STOP + point, out, args),
        stdin=subprocess.DEVNULL,
        stdout=write_end,
        stderr=write_end,
    )
    os.close(read_end)
    os.close(write_end)
    stopped = wait_for(lambda: process_state(run.pid) in ("T", "Z", None), 180)
    reader.kill()
    reader.wait()
    if stopped and run.poll() is None:
        run.send_signal(how.signum)
        run.send_signal(signal.SIGCONT)
    try:
        run.wait(timeout=180)
    except subprocess.TimeoutExpired:  # hung (or still stopped): never left behind
        run.kill()
        run.wait()
    left = [] if wait_for(lambda: not strays(out), STRAY_S) else strays(out)
    record = json.loads((out / "kill-point.json").read_text()) if stopped else {}
    journal = json.loads((out / "journal.json").read_text())
    rollback = [*victim.rollback, str(out / "journal.json"), "--project", str(project_root)]
    after_run = exitplan(*rollback, "--json")
    restored = restored_by(after_run) or []
    as_before = wait_for(lambda: snapshot(target) == before, SETTLE_S)
    finished = journal["status"] == "interrupted" and run.returncode == 130
    detail = "" if finished else f"exit {run.returncode}, journal {journal['status']}; "
    if not as_before:
        detail += json.dumps({"before": before, "after": snapshot(target)}, default=str)
    return KillPoint(
        point=f"{point} ({how.name})",
        write=record.get("write"),
        step=record.get("step", "not interrupted: the run ended first"),
        killed=finished,
        left_changed=bool(restored),
        rollback_exit=after_run.returncode,
        restored=restored,
        idempotent=restored == [],
        as_before=as_before,
        strays=left,
        lock_free=not lock_path(project_root, "sandbox").exists(),
        seconds=round(time.monotonic() - started, 1),
        detail=detail,
    )


def steps_of(victim: Victim, project_root: Path, out: Path) -> list[str]:
    """Every journal write of `victim` run to its end (point "0"): its kill points."""
    run = start(victim, "0", project_root, out)
    _, stderr = run.communicate(timeout=600)
    record = out / "kill-point.json"
    if not record.is_file() or run.returncode != 0:
        # a run that fails on its own (a steady state not met, say) ends early: its kill
        # points would not cover what it changes, and a matrix of them would prove nothing
        sys.exit(f"{victim.name} did not pass unkilled (exit {run.returncode}):\n{stderr[-3000:]}")
    return [json.loads(line)["step"] for line in record.read_text().splitlines()]


def matrix(
    victim: Victim, project_root: Path, target: Any, work: Path, limit: int | None
) -> dict[str, Any]:
    """Every kill point of `victim` (the first `limit`), each killed, rolled back, checked."""
    slug = victim.name.replace(" ", "-").replace(">", "")
    steps = steps_of(victim, project_root, work / f"{slug}-reference")
    rows = []
    for n in range(1, min(limit or len(steps), len(steps)) + 1):
        row = kill_at(victim, str(n), project_root, target, work / f"{slug}-kill-{n:02d}")
        rows.append(row)
        mark = "ok" if row.ok else "FAILED"
        print(
            f"{victim.name:<28}{n:>3} {mark:<7}{row.seconds:>6.1f} s  {row.step[:80]}", flush=True
        )
    # the output gone, then an interrupt, at a quarter, half and three quarters of the run
    for n in sorted({max(1, len(steps) * q // 4) for q in (1, 2, 3)}):
        for how in INTERRUPTS:
            where = work / f"{slug}-{how.signum}-{n:02d}"
            row = interrupt_at(victim, str(n), how, project_root, target, where)
            rows.append(row)
            mark = "ok" if row.ok else "FAILED"
            print(f"{victim.name:<28}{n:>3} {mark:<7}{row.seconds:>6.1f} s  {how.name}", flush=True)
    passed = sum(r.ok for r in rows)
    return {
        "victim": victim.name,
        "args": list(victim.args),
        "journal_writes": len(steps),
        "kill_points": len(rows),
        "passed": passed,
        "points": [{**asdict(r), "ok": r.ok} for r in rows],
    }


def main() -> int:
    """Run the matrix of every victim on a sandbox of its own; print and write the results."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--points", type=int, help="only the first N kill points of each run")
    parser.add_argument("--only", default="", help="only the runs whose name contains this")
    options = parser.parse_args()
    from components.stack_config import Project
    from runbooks.targets.sandbox_setup import sandbox_for, start_sandbox
    from sandbox.target import SandboxTarget

    every = (DRILL_VICTIM, FAILOVER_VICTIM, *chaos_victims())
    victims = [v for v in every if options.only in v.name]
    runs = []
    for stacks in dict.fromkeys(v.stacks for v in victims):  # one sandbox per set of stacks
        with tempfile.TemporaryDirectory(prefix="exitplan-kill-matrix-") as tmp:
            shutil.copy(ROOT / "Pulumi.yaml", tmp)  # a project of its own: its own sandbox
            shutil.copytree(ROOT / "stacks", Path(tmp) / "stacks")
            project = Project(Path(tmp))
            sandbox = sandbox_for(project)
            try:
                start_sandbox(project, list(stacks), lambda _message: None)
                target = SandboxTarget(sandbox)
                runs += [
                    matrix(v, project.root, target, Path(tmp), options.points)
                    for v in victims
                    if v.stacks == stacks
                ]
            finally:
                sandbox.down()
    for run in runs:
        print(f"{run['victim']}: {run['passed']} of {run['kill_points']} kill points restored")
    total, passed = sum(r["kill_points"] for r in runs), sum(r["passed"] for r in runs)
    print(f"all runs: {passed} of {total} kill points")
    # a partial matrix (--only, --points) is written beside the whole one, never over it
    partial = options.only or options.points
    slug = "".join(c if c.isalnum() else "-" for c in f"{options.only}-{options.points or 'all'}")
    results = RESULTS.with_name(f"kill_matrix-{slug.strip('-')}.json") if partial else RESULTS
    results.parent.mkdir(parents=True, exist_ok=True)
    results.write_text(
        json.dumps(
            {
                "machine": {"cpus": os.cpu_count(), "python": platform.python_version()},
                "kill_points": total,
                "passed": passed,
                "runs": runs,
            },
            indent=2,
        )
        + "\n"
    )
    print(f"wrote {results.relative_to(ROOT)}")
    return 0 if passed == total else 1


if __name__ == "__main__":
    sys.exit(main())
