"""The unplanned failover drill: under open-loop load the primary is killed without warning
(SIGKILL), the standby does what its level requires (pilot-light: start Triton, download the
model from its own store with its own credentials, load it; warm: scale to the primary's
minimum; hot: nothing) and joins the router's rotation; every phase is measured from the kill.

Phases (seconds from the kill): `detection` (the router marks the primary down), `scale`
(download, start, load: measured inside the target), `ready` (the router marks the standby
up), `rotation` (the drill gives the standby all the weight, as an operator promotes it),
`first answer` (the first correct answer from the standby), `recovered` (every request from
then on answered correctly by the standby): the measured RTO. A router that fails over by
itself (the sandbox's front door has the standby as a failover target, as a DNS failover
record has its secondary) recovers before the rotation; one that does not, after it. The
phases the sandbox cannot reproduce (GPU node provisioning, image pull, DNS health checks and
TTL) come from the catalog as labelled estimates, and the achievable RTO is the measured one
with the router's detection replaced by them.

Every change is journaled before it is made (the kill, the standby's level, the weights), so
`exitplan drill rollback JOURNAL` restarts the primary, restores the weights and returns the
standby to its level after a SIGKILL at any point."""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from functools import partial
from pathlib import Path
from typing import Any, cast

from components.catalog import rto_figure
from components.rto import GIB, estimate
from components.stack_config import Project, Stack
from model_packaging.progress import Progress, reporter
from runbooks.drills.clean_start import require_clean_start
from runbooks.drills.exit_preflight import require_on_target
from runbooks.drills.restore import restore, return_to_level, undo_then_finish
from runbooks.errors import DrillInterrupted, RunbookError
from runbooks.load import generator as loadgen
from runbooks.load.background import BackgroundLoad, window_summary
from runbooks.load.kserve import read_reference
from runbooks.reports.journal import Journal
from runbooks.reports.kit import format_bytes
from runbooks.targets.target import ScalableTarget, Target

LEVELS = ("hot", "warm", "pilot-light")
ROUTERS = ("frontdoor", "dns")
POLL_S = 0.05
# Estimated phases the sandbox cannot reproduce (components.rto phase names).
ESTIMATE_ONLY = (
    "DNS failure detection",
    "DNS TTL expiry",
    "GPU node provisioning",
    "Triton image pull",
)
FLAG_RATIO = 0.5  # a measured phase more than ±50 % off its scaled catalog figure is flagged
# A catalog figure scaled below this (a demo model of a few KiB: 0.00 s) is compared with
# nothing: a process start dwarfs it, and "+448725 %" said nothing (review U5).
MIN_FLAG_S = 0.1
MIB = 1024 * 1024


@dataclass(frozen=True)
class FailoverOptions:
    """What `exitplan drill failover` was asked to do."""

    source: str
    dest: str
    level: str | None = None  # None: the standby's own level
    model: str | None = None  # None: the model the target serves
    rate: float = 50.0
    router: str = "frontdoor"
    hold_s: float = 3.0  # baseline, and after the rotation
    timeout_s: float = 120.0  # each wait: detection, readiness
    max_lag_ms: float = 5.0


def validate(project: Project, options: FailoverOptions) -> tuple[Stack, Stack]:
    """The two stacks, after the checks that need no target: bad input raises RunbookError
    (exit 2) naming the fix."""
    source = project.stack(options.source, field="--from")
    dest = project.stack(options.dest, field="--to")
    if options.level is not None and options.level not in LEVELS:
        raise RunbookError(f"--level {options.level!r}", fix=f"use one of {', '.join(LEVELS)}")
    if options.router not in ROUTERS:
        raise RunbookError(f"--router {options.router!r}", fix=f"use {' or '.join(ROUTERS)}")
    if dest.standby is None or dest.standby.primary != source.name:
        ours = [s for s in project.stack_names() if _standby_of(project.stack(s), source.name)]
        raise RunbookError(
            f"{dest.name} is not a standby of {source.name}",
            fix=f"fail over to one of {source.name}'s standbys: {', '.join(ours) or 'none'}",
        )
    if dest.spec.provider == source.spec.provider:
        raise RunbookError(
            f"{dest.name} is on {dest.spec.provider}, like {source.name}",
            fix="fail over to a standby on another provider",
        )
    return source, dest


def _standby_of(stack: Stack, primary: str) -> bool:
    return stack.standby is not None and stack.standby.primary == primary


def served_model(target: Target, options: FailoverOptions) -> tuple[str, Path]:
    """The model the target serves (from its reference answers) and those answers; a --model
    it does not serve is bad input."""
    reference = target.reference_answers()
    if reference is None:
        raise RunbookError(
            f"the {target.kind} target knows no reference answers",
            fix="restart the sandbox (exitplan sandbox down; exitplan sandbox up)",
        )
    model, _cases = read_reference(reference)
    if options.model is not None and options.model != model:
        from runbooks.targets.sandbox_setup import MODELS

        # `sandbox up --model` takes only what the sandbox can package (review I12: the fix
        # said `--model gpt4`)
        fix = (
            f"drop --model, or start the sandbox serving it: exitplan sandbox down; "
            f"exitplan sandbox up --model {options.model}"
            if options.model in MODELS and options.model != "demo"
            else f"drop --model: the sandbox serves the stacks' model ({model} now) or one of "
            f"{', '.join(m for m in MODELS if m != 'demo')} (exitplan sandbox up --model NAME)"
        )
        raise RunbookError(f"the stacks serve {model}, not {options.model}", fix=fix)
    return model, reference


@dataclass(frozen=True)
class _Routed:
    """The target seen through one router: what the load worker needs of it."""

    target: Target
    url: str

    def endpoint(self) -> str:
        """The router's URL."""
        return self.url

    def reference_answers(self) -> Path | None:
        """The target's reference answers."""
        return self.target.reference_answers()


def planned_steps(
    options: FailoverOptions, level: str, before: dict[str, int], others: list[str]
) -> list[str]:
    """Every step of the drill (for --dry); `others`: the stacks it holds out of traffic."""
    action = {
        "pilot-light": f"start {options.dest}'s Triton, download the model from its own store "
        "with its own credentials, load it",
        "warm": f"scale {options.dest} to the primary's minimum replicas",
        "hot": "nothing to start",
    }[level]
    return [
        f"checks: {options.dest} is a standby of {options.source} on another provider",
        f"set {options.dest} to {level} (what that level runs at rest)",
        *(
            [
                f"hold {', '.join(others)} out of traffic (a router fails over to any standby: "
                f"the gap must be {options.dest}'s)"
            ]
            if others
            else []
        ),
        f"baseline: {options.hold_s:g} s at {options.rate:g} req/s through the "
        f"{options.router} router with weights {before}",
        f"SIGKILL {options.source}'s Triton (no warning)",
        f"detection: wait until the router marks {options.source} down",
        f"{level}: {action}; wait until the router marks {options.dest} up",
        f"rotation: set weights {{{options.source}: 0, {options.dest}: 100}}",
        f"hold {options.hold_s:g} s; measure first answer and all traffic served correctly",
        f"rollback: restart {options.source}, weights back to {before}, "
        + (f"{', '.join(others)} back in traffic, " if others else "")
        + f"{options.dest} back to its own level",
    ]


def run_failover(
    project: Project,
    target: Target,
    options: FailoverOptions,
    journal_path: Path,
    progress: Progress | Callable[[str], None],
) -> Journal:
    """The drill; returns its journal. Raises RunbookError on bad input before anything
    changes, DrillInterrupted after Ctrl-C (rolled back)."""
    source, dest = validate(project, options)
    for stack in (source, dest):
        require_on_target(target, stack)
    model, reference = served_model(target, options)
    if not isinstance(target, ScalableTarget):
        raise RunbookError(
            f"the {target.kind} target cannot change a standby's level",
            fix="run the failover drill on the sandbox (--target sandbox)",
        )
    require_clean_start(project, target, "the failover drill")
    own = target.level(options.dest)["level"]
    level = options.level or own
    url = target.dns_endpoint() if options.router == "dns" else target.endpoint()
    if not url:
        raise RunbookError(
            "the sandbox has no DNS-like router (started by an older exitplan)",
            fix="restart it: exitplan sandbox down; exitplan sandbox up",
        )
    before = target.weights()
    est = estimate(
        cast(Any, level),
        source.spec,
        dest.spec.provider,
        dest.plan.gpu_instance.instance_type,
        source.traffic,
    )
    journal = Journal.new(
        journal_path,
        f"failover {options.source} -> {options.dest} ({level}, {options.router})",
        {
            "drill": "failover",
            "from": options.source,
            "to": options.dest,
            "target": target.kind,
            "level": level,
            "own_level": own,
            "router": options.router,
            "rate": options.rate,
            "model": model,
            "weights_before": before,
            "estimate": est.as_dict(),
            "measured": {},
        },
    )
    progress = reporter(progress)
    progress.stage("failover", f"{options.source} -> {options.dest} ({level})")
    drill = _Failover(target, options, journal, progress)
    duration = 2 * options.hold_s + 2 * options.timeout_s + 10
    routed = cast(Target, _Routed(target, url))
    drill.load = BackgroundLoad(
        routed, model, options.rate, duration, journal_path.parent, reference
    )
    try:
        drill.prepare(level)
        drill.load.start()
        drill.run(level)
    except KeyboardInterrupt as exc:  # Ctrl-C, SIGTERM or SIGHUP (runbooks.interrupts)
        why = str(exc) or "Ctrl-C"
        summary = f"interrupted ({why}); rolled back"
        undo_then_finish(drill.rollback, journal, "interrupted", summary)
        raise DrillInterrupted(f"interrupted ({why}); every change was rolled back") from None
    except Exception as exc:
        summary = f"{type(exc).__name__}: {exc}; rolled back"
        undo_then_finish(drill.rollback, journal, "failed", summary)
        raise
    finally:
        drill.account()
    drill.rollback()
    conclude(journal, project, options)
    progress.done()
    return journal


class _Failover:
    def __init__(
        self, target: ScalableTarget, options: FailoverOptions, journal: Journal, progress: Progress
    ) -> None:
        self.target, self.options, self.journal, self.progress = target, options, journal, progress
        self.load: BackgroundLoad | None = None
        self.killed_at = 0.0

    @property
    def measured(self) -> dict[str, Any]:
        result: dict[str, Any] = self.journal.exitplan["measured"]
        return result

    def prepare(self, level: str) -> None:
        """Run what `level` runs at rest on the standby (recorded first: rollback returns it
        to its own level) and wait until the router has the primary, and a standby that runs
        at rest, up (a previous run's restarted primary, a replica just started: the baseline
        and a hot standby's readiness must not include their health checks); note what ran
        before the kill."""
        o = self.options
        self.journal.change("level", f"{o.dest} set to {level}", stack=o.dest)
        self.journal.activity(
            f"set {o.dest} to {level}", "action", partial(self.target.set_level, o.dest, level)
        )
        for stack in others_of(self.target, o):
            self.journal.change(
                "held out", f"{stack} held out of traffic (the gap is {o.dest}'s)", stack=stack
            )
            self.journal.activity(
                f"hold {stack} out of traffic", "action", partial(self.target.hold_out, stack)
            )
        before = self.target.level(o.dest)
        self.measured["standby_before"] = before
        for stack in [o.source] + ([o.dest] if before["running"] else []):
            up = partial(self.target.in_rotation, stack)
            _poll(up, f"the router marking {stack} up", o.timeout_s)

    def since_kill(self) -> float:
        assert self.load is not None
        return round(self.load.now() - self.killed_at, 3)

    def wait_for(self, check: Callable[[], bool], what: str) -> float:
        """Poll `check` until it holds; seconds since the kill (RunbookError after the
        timeout)."""
        _poll(check, what, self.options.timeout_s)
        return self.since_kill()

    def run(self, level: str) -> None:
        o, load = self.options, self.load
        assert load is not None
        self.progress(f"baseline: {o.hold_s:g} s at {o.rate:g} req/s ({o.router} router)")
        time.sleep(o.hold_s)
        self.journal.change("killed", f"SIGKILLed {o.source}'s Triton", stack=o.source)
        self.killed_at = load.now()
        self.measured["killed_at_s"] = round(self.killed_at, 3)
        self.progress(f"SIGKILL {o.source}")
        self.journal.activity(f"kill {o.source}", "action", partial(self.target.kill, o.source))
        m = self.measured
        m["detection_s"] = self.wait_for(
            lambda: not self.target.in_rotation(o.source), f"the router marking {o.source} down"
        )
        self.journal.save()
        self.progress(f"{level}: scaling {o.dest}")
        began = self.since_kill()
        m["scale"] = self.journal.activity(
            f"scale {o.dest}", "action", partial(self.target.scale, o.dest)
        )
        m["scale"]["began_s"], m["scale"]["ended_s"] = began, self.since_kill()
        m["ready_s"] = self.wait_for(
            lambda: self.target.in_rotation(o.dest), f"the router marking {o.dest} up"
        )
        weights = {**dict.fromkeys(self.target.weights(), 0), o.dest: 100}
        self.journal.change("weights", f"all weight on {o.dest}", before=self.target.weights())
        self.journal.activity(
            f"set weights {weights}", "action", partial(self.target.set_weights, weights)
        )
        m["rotation_s"] = self.since_kill()
        self.journal.save()
        self.progress(f"holding {o.hold_s:g} s on {o.dest}")
        time.sleep(o.hold_s)
        m["standby_after_failover"] = self.target.level(o.dest)
        self.journal.save()

    def rollback(self) -> None:
        """Undo every change not yet restored (`restore_failover`)."""
        self.progress("rollback: primary restarted, weights and standby level restored")
        restore_failover(self.target, self.journal)
        self.measured["standby_after_rollback"] = self.target.level(self.options.dest)
        self.journal.save()

    def account(self) -> None:
        """Stop the load; rows (baseline, gap, after) and the first answer and recovery times
        from every scheduled request (a request with no record is lost)."""
        if self.load is None:
            return
        scheduled = self.load.stop()
        records = self.load.accounted()
        rate, dest = self.load.rate, self.options.dest
        end = max((r.scheduled_s for r in records), default=0.0) + 1.0
        kill = self.killed_at or end
        recovered = recovery_time(records, kill, dest)
        first = next(
            (r.scheduled_s for r in records if r.scheduled_s >= kill and _good(r, dest)), None
        )
        bounds = [("baseline", 0.0, kill), ("gap", kill, recovered or end)]
        if recovered is not None:
            bounds.append(("on standby", recovered, end))
        rows = []
        for name, start, stop in bounds:
            summary = window_summary(records, start, stop, rate)
            rows.append(_row(name, start, stop, summary))
        whole = loadgen.summarize(records, rate=rate, duration_s=max(end, 1.0 / rate))
        m = self.measured
        if self.killed_at:
            m["first_answer_s"] = None if first is None else round(first - kill, 3)
            m["recovered_s"] = None if recovered is None else round(recovered - kill, 3)
        self.journal.exitplan["phases"] = rows
        self.journal.exitplan["load"] = {
            "scheduled": scheduled,
            "accounted": sum(r["sent"] for r in rows),
            "failed": whole.failed,
            "lost": whole.lost,
            "wrong_answers": whole.wrong_answers,
            "errors": whole.errors,
            "lag_p99_ms": whole.lag_p99_ms,
            "failed_in_gap": rows[1]["failed"] if len(rows) > 1 else 0,
        }
        self.journal.exitplan["timeline"] = whole.timeline
        self.journal.save()


def others_of(target: Target, options: FailoverOptions) -> list[str]:
    """The stacks other than --from and --to: a router fails over to any standby it has (a
    warm one first), so the drill holds them out of traffic for its run and its gap measures
    --to alone (review B3: a warm gcp-standby served the whole gap of a drill to azure)."""
    return [s for s in target.stacks() if s not in (options.source, options.dest)]


def _poll(check: Callable[[], bool], what: str, timeout_s: float) -> None:
    """Poll `check` every POLL_S until it holds; RunbookError naming `what` after `timeout_s`."""
    deadline = time.monotonic() + timeout_s
    while not check():
        if time.monotonic() > deadline:
            raise RunbookError(f"{what} did not happen within {timeout_s:g} s")
        time.sleep(POLL_S)


def _good(record: loadgen.RequestRecord, stack: str) -> bool:
    return not record.error and record.served_by == stack


def recovery_time(records: list[loadgen.RequestRecord], kill: float, stack: str) -> float | None:
    """When all traffic was served by `stack` with correct answers: the schedule time of the
    first request after the kill from which every later one is; None if never."""
    after = sorted((r for r in records if r.scheduled_s >= kill), key=lambda r: r.scheduled_s)
    recovered = None
    for record in after:
        if not _good(record, stack):
            recovered = None
        elif recovered is None:
            recovered = record.scheduled_s
    return recovered


def _row(name: str, start: float, end: float, summary: loadgen.LoadSummary) -> dict[str, Any]:
    return {
        "name": name,
        "start_s": round(start, 3),
        "end_s": round(end, 3),
        "sent": summary.sent,
        "failed": summary.failed,
        "errors": summary.errors,
        "p50_ms": summary.p50_ms,
        "p99_ms": summary.p99_ms,
        "share": summary.share,
    }


def restore_failover(target: Target, journal: Journal) -> list[str]:
    """Undo a failover drill from its journal (safe to run twice): the killed primary
    restarted first (to its level's replicas), then the weights and the standby's level
    (`runbooks.drills.restore`)."""
    done = []
    for change in journal.exitplan["changes"]:
        if change["what"] != "killed" or change["restored"]:
            continue
        stack = change["stack"]
        refusal = f"the {target.kind} target cannot restart {stack}"
        return_to_level(target, journal, change, f"restart {stack}", refusal)
        done.append(f"{stack} restarted")
    journal.save()
    return done + restore(target, journal)


def achievable(journal: dict[str, Any], project: Project) -> dict[str, Any]:
    """Measured + estimated side by side: one row per phase (measured seconds, the catalog's
    estimate, whether it is an estimate only, and a flag where a measured phase is more than
    ±50 % off its catalog figure scaled to the model's size), the measured RTO, the achievable
    RTO (measured, with the router's detection replaced by the estimate-only phases) and the
    stack's estimated RTO."""
    ex = journal["exitplan"]
    m, est = ex["measured"], ex["estimate"]
    dest = project.stack(ex["to"])
    cloud = dest.spec.provider
    scale = m.get("scale") or {}
    size_mib = (scale.get("download_bytes") or 0) / MIB
    rows: list[dict[str, Any]] = [
        _measured("detection (router health checks)", m.get("detection_s"), None),
    ]
    if scale.get("download"):
        mib_s = rto_figure(cloud, "model_download").value
        rows.append(_measured("model download", scale["download"], size_mib / mib_s))
        rows[-1]["basis"] = f"{format_bytes(size_mib * MIB)} at {mib_s:g} MiB/s"
    if scale.get("started"):
        rows.append(_measured("Triton start", scale["start"], rto_figure(cloud, "pod_start").value))
        per_gib = rto_figure(cloud, "model_load").value
        rows.append(_measured("model load", scale["load"], per_gib * size_mib / GIB or None))
    for name in ("ready_s", "rotation_s", "first_answer_s", "recovered_s"):
        rows.append(_measured(name.removesuffix("_s").replace("_", " "), m.get(name), None))
    estimated = [p for p in est["phases"] if p["name"] in ESTIMATE_ONLY]
    for phase in estimated:
        rows.append(
            {
                "phase": phase["name"],
                "measured_s": None,
                "estimated_s": phase["seconds"],
                "estimate_only": True,
                "basis": phase["basis"],
                "flag": None,
            }
        )
    recovered = m.get("recovered_s")
    total = None
    if recovered is not None:
        total = round(
            recovered - (m.get("detection_s") or 0) + sum(p["seconds"] for p in estimated), 1
        )
    return {
        "rows": rows,
        "measured_rto_s": recovered,
        "achievable_rto_s": total,
        "estimated_rto_s": est["total_s"],
        "flags": [r["flag"] for r in rows if r.get("flag")],
    }


def _measured(name: str, seconds: float | None, expected: float | None) -> dict[str, Any]:
    flag = None
    if seconds is not None and expected and expected >= MIN_FLAG_S:
        off = seconds / expected - 1
        if abs(off) > FLAG_RATIO:
            flag = (
                f"{name}: measured {seconds:.2f} s is {off:+.0%} off the catalog's {expected:.2f} s"
            )
    return {
        "phase": name,
        "measured_s": seconds,
        "estimated_s": None if expected is None else round(expected, 3),
        "estimate_only": False,
        "basis": "",
        "flag": flag,
    }


def gap_note(share: dict[str, float] | None, dest: str) -> str:
    """Who answered in the gap (kill -> the standby serving all), per stack; when another
    stack answered any of it (a warm standby the router fails over to first), the gap is not
    a measure of `dest`, and the note says so."""
    if not share:
        return ""
    served = ", ".join(f"{stack} {part:.0%}" for stack, part in sorted(share.items()) if part)
    others = [stack for stack, part in share.items() if part and stack != dest]
    if not others:
        return f" (gap served by {served})"
    return (
        f" (gap served by {served}: {dest}'s own gap NOT measured, {', '.join(others)} "
        "took the traffic first)"
    )


def conclude(journal: Journal, project: Project, options: FailoverOptions) -> None:
    """The verdict: the standby served all traffic with correct answers, every scheduled
    request accounted for, none lost, and the standby back at its level after the rollback."""
    ex = journal.exitplan
    ex["rto"] = achievable(journal.data, project)
    load, m = ex["load"], ex["measured"]
    reasons = []
    if m.get("recovered_s") is None:
        reasons.append(f"{options.dest} never served all traffic with correct answers")
    if load["lost"]:
        reasons.append(f"{load['lost']} requests lost")
    if load["accounted"] != load["scheduled"]:
        reasons.append(f"{load['accounted']} requests in the rows, {load['scheduled']} scheduled")
    after = m.get("standby_after_rollback") or {}
    if after.get("running") != after.get("at_rest"):
        reasons.append(f"{options.dest} runs {after.get('running')} Tritons after the rollback")
    rto = ex["rto"]
    gap = next((row for row in ex["phases"] if row["name"] == "gap"), None)
    ex["gap_share"] = gap["share"] if gap else None
    summary = (
        f"{options.dest} ({ex['level']}, {options.router}) served all traffic "
        f"{m.get('recovered_s')} s after the kill; achievable RTO {rto['achievable_rto_s']} s "
        f"(estimated {rto['estimated_rto_s']} s); {load['failed_in_gap']} of "
        f"{gap['sent'] if gap else 0} requests failed in the gap"
        + gap_note(ex["gap_share"], options.dest)
        + (f" (FAILED: {'; '.join(reasons)})" if reasons else "")
    )
    journal.finish("completed", not reasons, summary)
