"""The exit-plan drill: under open-loop load, move all traffic from one cloud to another in
gated canary steps, revoke the old cloud's credentials, verify, and (unless kept) roll back.

Phases (each timestamped in the journal): pre-flight, baseline, canary steps (the last is the
cutover), vendor exit, verify, rollback. A failed gate rolls back and exits 1; Ctrl-C, SIGTERM
and SIGHUP roll back and exit 130; any other error rolls back and is raised; a drill killed
outright (SIGKILL) is undone by `exitplan drill rollback JOURNAL`, on the target the journal
names: the journal is on disk after every step, each change recorded before it is made.

What the target cannot do is checked once, in the pre-flight, before anything changes: the
drill's own operations must all be there; the vendor exit's revocation is skipped, saying why,
on a target that cannot revoke the --from stack's key (the verdict says it was not revoked).
Its options and steps are in `exit_options`, its pre-flight in `exit_preflight`, its rollback
in `restore`."""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from functools import partial
from pathlib import Path
from typing import Any, cast

from components.stack_config import Project
from model_packaging.errors import PublishError
from model_packaging.progress import Progress, reporter
from runbooks.drills.clean_start import require_clean_start
from runbooks.drills.exit_options import ExitPlanOptions, step_weights
from runbooks.drills.exit_preflight import (
    SETTLE_S,
    preflight,
    reference_of,
    revoke_gap,
    validate,
)
from runbooks.drills.restore import restore, undo_then_finish
from runbooks.errors import DrillCheckFailed, DrillInterrupted
from runbooks.load import generator as loadgen
from runbooks.load.background import BackgroundLoad, window_summary
from runbooks.reports.journal import Journal
from runbooks.targets.target import ScalableTarget, Target

LOAD_MARGIN_S = 4.0
TICK_S = 0.25  # a hold advances the progress this often


def run_exit_plan(
    project: Project,
    target: Target,
    options: ExitPlanOptions,
    journal_path: Path,
    progress: Progress | Callable[[str], None],
) -> Journal:
    """The drill; returns its journal (verdict inside; its `target` is the target's kind, which
    `exitplan drill rollback` rebuilds). Its phases are lines, and the `progress` stage "drill"
    counts the planned seconds (every hold and the first settle) as they pass. Raises
    UnsupportedOperation before anything changes when the target lacks an operation,
    DrillCheckFailed after a failed check or gate (rolled back), DrillInterrupted after Ctrl-C
    (rolled back)."""
    title = f"{options.source} -> {options.dest}"
    validate(project, target, options)
    require_clean_start(project, target, "the exit-plan drill")
    # A standby short of replicas (pilot-light) is scaled before the pre-flight: its journal
    # is opened first, so a run killed while scaling is rolled back from it too.
    short = short_of_replicas(target, options.dest)
    named = {"from": options.source, "to": options.dest, "target": target.kind}
    journal = Journal.new(journal_path, title, named) if short else None
    try:
        scaled = scale_standby(target, options.dest, journal) if journal else None
        checks = preflight(project, target, options)
    except BaseException as exc:
        if journal is not None:  # the standby back to its level, then the error
            restore(target, journal)
            journal.finish("failed", False, f"{type(exc).__name__}: {exc}; rolled back")
        raise
    dest_stack = project.stack(options.dest)
    before = target.weights()
    fields: dict[str, Any] = {
        **named,
        "rate": options.rate,
        "rto_target_s": options.rto_s,
        "rto_estimate_s": dest_stack.rto.total_s if dest_stack.rto else None,
        "rto_measured_s": None,
        "rpo": _rpo(target, options),
        "weights_before": before,
        "cost_per_hour": _cost(project, options),
        "checks": [c.__dict__ for c in checks],
        "revoke_skipped": revoke_gap(target, options),
        "scaled_first": scaled,
    }
    if journal is None:
        journal = Journal.new(journal_path, title, fields)
    else:
        journal.exitplan.update(fields)
        journal.save()
    failed = [c for c in checks if not c.passed]
    if failed:
        restore(target, journal)  # a standby scaled first goes back to its level
        journal.finish("failed", False, f"pre-flight failed: {failed[0].name}")
        raise DrillCheckFailed(
            f"pre-flight check failed: {failed[0].name} ({failed[0].detail})", fix=failed[0].fix
        )
    journal.exitplan["rpo"].update(_store_lag(target, options))
    holds = len(options.canary) + 3 + (0 if options.keep else 1)
    model = project.stack(options.source).spec.triton.models[0].name
    # An upper bound: the drill stops the load when it ends (gates may wait for stragglers).
    duration = 2 * holds * options.hold_s + 2 * LOAD_MARGIN_S
    reference = reference_of(target, options)
    load = BackgroundLoad(target, model, options.rate, duration, journal_path.parent, reference)
    progress = reporter(progress)
    planned = SETTLE_S + holds * options.hold_s
    progress.stage("drill", f"{options.source} -> {options.dest}", total=planned, unit="s")
    drill = _Drill(target, options, journal, load, before, progress)
    load.start()
    try:
        drill.run()
    except KeyboardInterrupt as exc:  # Ctrl-C, SIGTERM or SIGHUP (runbooks.interrupts)
        why = str(exc) or "Ctrl-C"
        undo = partial(drill.rollback, "interrupted")
        undo_then_finish(undo, journal, "interrupted", f"interrupted ({why}); rolled back")
        raise DrillInterrupted(f"interrupted ({why}); every change was rolled back") from None
    except DrillCheckFailed as exc:
        undo_then_finish(partial(drill.rollback, "a gate failed"), journal, "failed", exc.cause)
        raise
    except Exception as exc:  # a target call or the disk failed mid-drill: undo all the same
        summary = f"{type(exc).__name__}: {exc}; rolled back"
        undo_then_finish(partial(drill.rollback, "an error"), journal, "failed", summary)
        raise
    finally:
        drill.account()
    _conclude(journal, options)
    progress.done()
    return journal


def short_of_replicas(target: Target, stack: str) -> bool:
    """Whether the standby runs fewer Tritons than the primary's minimum (pilot-light: none);
    False where the target has no levels or no such stack (the pre-flight's to refuse)."""
    if not isinstance(target, ScalableTarget) or stack not in target.stacks():
        return False
    level = target.level(stack)
    return bool(level["running"] < level["replicas"])


def scale_standby(target: Target, stack: str, journal: Journal) -> dict[str, Any]:
    """Scale a standby short of replicas first, the drill's first measured phase (journaled
    before it starts, so a rollback returns the standby to its level): its level and each
    phase's seconds."""
    scalable = cast(ScalableTarget, target)
    level = scalable.level(stack)["level"]
    journal.change("level", f"scaled {stack} up from {level}", stack=stack)
    began = time.monotonic()
    phases = journal.activity(f"scale {stack}", "action", partial(scalable.scale, stack))
    return {"level": level, "seconds": round(time.monotonic() - began, 3), **phases}


def _conclude(journal: Journal, options: ExitPlanOptions) -> None:
    """The verdict of a drill whose gates all passed, from everything it claims: the RTO
    against its target, every scheduled request accounted for and none failed beyond
    --max-error-rate (transitions included), and a load generator that kept its schedule."""
    ep = journal.exitplan
    rto, load = ep["rto_measured_s"], ep["load"]
    reasons = []
    if options.rto_s is not None and rto > options.rto_s:
        reasons.append(f"RTO target {options.rto_s:g} s missed")
    if load["lost"]:
        reasons.append(f"{load['lost']} requests lost (scheduled, never answered nor failed)")
    if load["accounted"] != load["scheduled"]:
        reasons.append(f"{load['accounted']} requests in the phases, {load['scheduled']} scheduled")
    if load["lag_p99_ms"] > options.max_lag_ms:
        reasons.append(
            f"load generator lag p99 {load['lag_p99_ms']:.1f} ms > {options.max_lag_ms:g} ms "
            "(its latencies are its own, not the service's)"
        )
    failed, sent = load["failed"], load["scheduled"]
    if failed > options.max_error_rate * sent:
        reasons.append(f"{failed} failed requests, transitions included")
    ending = "stayed on " + options.dest if options.keep else "rolled back"
    skipped = ep.get("revoke_skipped")
    vendor_exit = (
        f"{options.source}'s credentials NOT revoked ({skipped})"
        if skipped
        else f"{options.source}'s credentials revoked (verified) without effect on the service"
    )
    cutover = ep["cutover"]
    summary = (
        f"all traffic on {options.dest} in {rto:.1f} s ({cutover['holds_s']:g} s of configured "
        f"holds + {cutover['overhead_s']:.2f} s measured overhead)"
        + (f" (FAILED: {'; '.join(reasons)})" if reasons else "")
        + f"; {failed} of {sent} requests failed ({load['wrong_answers']} wrong answers); "
        f"{vendor_exit}; {ending}"
    )
    journal.finish("completed", not reasons, summary)


# A stack holding all the weight must give at least this share of the answers; a stack holding
# some must give at least one once it is due this many.
ALL_SHARE = 0.99
SOME_EXPECTED = 5


def share_reasons(
    weights: dict[str, int], share: dict[str, float] | None, answered: int
) -> list[str]:
    """Why the measured traffic share does not follow `weights` (empty when it does); a share
    that could not be measured is a reason, never a pass."""
    if share is None:
        return [
            "traffic share unmeasurable: the answers carry no x-served-by header and the "
            "target reads no per-stack count (served_counts)"
        ]
    total = sum(weights.values())
    reasons = []
    for stack, weight in weights.items():
        expected, got = (weight / total if total else 0.0), share.get(stack, 0.0)
        if expected >= 1.0 and got < ALL_SHARE:
            reasons.append(f"{got:.1%} of the answers from {stack}, which holds all the weight")
        elif expected > 0 and expected * answered >= SOME_EXPECTED and got == 0.0:
            reasons.append(f"no answer from {stack} ({weight} of {total} weight)")
    return reasons


def count_share(
    before: dict[str, int] | None, after: dict[str, int] | None
) -> dict[str, float] | None:
    """Each stack's share of the requests answered between two `served_counts` readings."""
    if before is None or after is None:
        return None
    delta = {stack: after.get(stack, 0) - count for stack, count in before.items()}
    total = sum(delta.values())
    return {stack: n / total for stack, n in delta.items()} if total > 0 else {}


@dataclass(frozen=True)
class Window:
    """A gated window of the load: its bounds (load clock) and, where the answers name no
    stack, the target's per-stack counts at both ends."""

    start: float
    end: float
    counts: tuple[dict[str, int] | None, dict[str, int] | None] = (None, None)


class _Drill:
    def __init__(
        self,
        target: Target,
        options: ExitPlanOptions,
        journal: Journal,
        load: BackgroundLoad,
        before: dict[str, int],
        progress: Progress,
    ) -> None:
        self.target, self.options, self.journal, self.load = target, options, journal, load
        self.before, self.progress = before, progress
        self.baseline_p99 = 0.0
        self.mark = 0.0  # where the next row starts: the rows tile the load's schedule
        self.by_header = True  # the answers name their stack (x-served-by), else count

    def row(self, name: str, kind: str, end: float) -> loadgen.LoadSummary:
        """Record the load from the previous row's end to `end` as one row (`phase`: gated;
        `transition`: a weight change, a revocation, a settle) and return its summary. Its
        end is rounded as the journal stores it, so the rows tile the schedule exactly."""
        end = round(end, 3)
        summary = self.load.window(self.mark, end)
        self.journal.exitplan["phases"].append(_row(name, kind, self.mark, end, summary))
        self.mark = end
        self.journal.save()
        return summary

    def hold(self, settle: float = 0.0) -> Window:
        """Hold for --hold seconds. The gated window opens after `settle` (connections opened
        before a weight change drain first; that time is a transition row), else where the
        previous row ended (what happened since, a revocation say, is gated with it)."""
        self.wait(settle)
        start, first = (self.load.now() if settle else self.mark), self.counts()
        self.wait(self.options.hold_s - settle)
        return Window(start, self.load.now(), (first, self.counts()))

    def counts(self) -> dict[str, int] | None:
        """The target's per-stack answer counts, read only where answers name no stack."""
        return None if self.by_header else self.target.served_counts()

    def share(self, summary: loadgen.LoadSummary, window: Window) -> dict[str, float] | None:
        """Each stack's share of a window's answers: from x-served-by, else counts."""
        return summary.share if self.by_header else count_share(*window.counts)

    def wait(self, seconds: float) -> None:
        """Sleep `seconds`, advancing the progress as they pass."""
        end = time.monotonic() + seconds
        while (left := end - time.monotonic()) > 0:
            tick = min(left, TICK_S)
            time.sleep(tick)
            self.progress.advance(tick)

    def set_weights(self, weights: dict[str, int], why: str) -> None:
        previous = self.target.weights()
        self.journal.change("weights", why, before=previous, after=weights)
        self.journal.activity(
            f"set weights {weights}", "action", lambda: self.target.set_weights(weights)
        )

    def phase(self, name: str, weights: dict[str, int], window: Window, transition: str) -> None:
        """The transition up to `window` (a row named `transition`), then the gated window."""
        if window.start > self.mark:
            self.row(transition, "transition", window.start)
        summary = self.row(name, "phase", window.end)
        self.gate(name, weights, summary, self.share(summary, window))

    def run(self) -> None:
        o = self.options
        self.wait(SETTLE_S)
        answered = [r for r in self.load.records() if not r.error]
        self.by_header = bool(answered) and all(r.served_by for r in answered)
        self.row("load start", "transition", self.load.now())
        self.progress(f"baseline: {o.hold_s:g} s at {o.rate:g} req/s")
        window = self.hold()
        baseline = self.row("baseline", "phase", window.end)
        self.baseline_p99 = baseline.p99_ms
        achieved = baseline.ok / max(window.end - window.start, 1e-3)
        if baseline.failed or achieved < 0.9 * o.rate:
            suggested = max(1, int(achieved * 0.7))
            raise DrillCheckFailed(
                f"the target cannot sustain {o.rate:g} req/s: the baseline achieved "
                f"{achieved:.0f} req/s with {baseline.failed} failed requests "
                f"({baseline.errors})",
                fix=f"run the drill at a rate it sustains, e.g. --rate {suggested}",
            )
        self.gate("baseline", self.before, baseline, self.share(baseline, window))
        self.journal.data["steady_states"]["before"] = {
            "p99_ms": baseline.p99_ms,
            "failed": baseline.failed,
        }
        cutover_start = self.load.now()
        for step in o.canary:
            weights = step_weights(self.before, o, step)
            self.progress(f"canary {step}% on {o.dest}")
            self.set_weights(weights, f"canary {step}% to {o.dest}")
            name = f"canary {step}%" if step < 100 else "cutover"
            self.phase(name, weights, self.hold(SETTLE_S), f"to {name}")
        rto = self.load.now() - cutover_start
        holds = len(o.canary) * o.hold_s
        self.journal.exitplan["rto_measured_s"] = round(rto, 3)
        self.journal.exitplan["cutover"] = {
            "measured_s": round(rto, 3),
            "holds_s": holds,
            "overhead_s": round(rto - holds, 3),
        }
        everything = step_weights(self.before, o, 100)
        self.progress(f"vendor exit: revoking {o.source}'s credentials")
        self.vendor_exit()
        self.phase("vendor exit", everything, self.hold(), "revocation")
        self.progress(f"verify: {o.dest} alone")
        self.phase("verify", everything, self.hold(), "to verify")
        verify = self.journal.exitplan["phases"][-1]
        self.journal.data["steady_states"]["after"] = {
            "p99_ms": verify["p99_ms"],
            "failed": verify["failed"],
        }
        if not o.keep:
            self.rollback("the drill passed")

    def gate(
        self,
        name: str,
        weights: dict[str, int],
        summary: loadgen.LoadSummary,
        share: dict[str, float] | None,
    ) -> None:
        o = self.options
        error_rate = summary.failed / summary.sent if summary.sent else 0.0
        limit = self.baseline_p99 * o.baseline_factor + 1.0
        reasons = []
        if not summary.sent:  # nothing to judge: not measured, never a 100 % error rate
            reasons.append("not measured: no request in the gate's window (raise --hold)")
        elif error_rate > o.max_error_rate:
            kinds = ", ".join(f"{n} {kind}" for kind, n in summary.errors.items())
            reasons.append(f"error rate {error_rate:.2%} > {o.max_error_rate:.2%} ({kinds})")
        if o.slo_p99_ms is not None and summary.p99_ms > o.slo_p99_ms:
            reasons.append(f"p99 {summary.p99_ms:.1f} ms > SLO {o.slo_p99_ms:g} ms")
        if summary.p99_ms > limit:
            reasons.append(
                f"p99 {summary.p99_ms:.1f} ms > {o.baseline_factor:g}x baseline "
                f"{self.baseline_p99:.1f} ms (+1 ms)"
            )
        if summary.sent:  # an empty window has no share to judge either (review B4)
            reasons += share_reasons(weights, share, summary.ok)
        passed = not reasons
        total = sum(weights.values())
        self.journal.exitplan["gates"].append(
            {
                "phase": name,
                "step": round(100 * weights.get(o.dest, 0) / total) if total else 0,
                "passed": passed,
                "error_rate": error_rate,
                "p99_ms": summary.p99_ms,
                "slo_p99_ms": o.slo_p99_ms,
                "baseline_p99_ms": self.baseline_p99,
                "share": share,
                "share_from": "x-served-by" if self.by_header else "served_counts",
                "wrong_answers": summary.wrong_answers,
                "reason": "; ".join(reasons) or "met",
            }
        )
        if not passed and name == "rollback":
            self.journal.data["deviated"] = True  # the steady state did not come back
        self.journal.save()
        if not passed:
            raise DrillCheckFailed(
                f"gate at {name} ({o.dest}) failed: {'; '.join(reasons)}",
                fix="raise --hold or --rate: the gate's window held no request"
                if not summary.sent
                else "look at the report's timeline; fix the standby or loosen "
                "--slo-p99-ms / --max-error-rate if the limit is wrong",
            )

    def vendor_exit(self) -> None:
        """Revoke --from's store key and check that the target reports it revoked; either
        failing fails the drill (rolled back)."""
        source = self.options.source
        skipped = self.journal.exitplan.get("revoke_skipped")
        if skipped:  # the pre-flight found the target cannot revoke it: nothing to undo
            detail = f"{source}'s store key not revoked: {skipped}"
            self.journal.change("credentials", detail, stack=source)["restored"] = None
            self.journal.save()
            return
        self.journal.change("credentials", f"revoked {source}'s store key", stack=source)
        fix = f"check {source}'s credentials (exitplan sandbox status), then rerun the drill"
        try:
            self.journal.activity(
                f"revoke {source} credentials",
                "action",
                lambda: self.target.revoke_credentials(source),
            )
        except Exception as exc:
            raise DrillCheckFailed(
                f"the vendor exit failed: revoking {source}'s credentials: {exc}", fix=fix
            ) from exc
        state = self.target.credential_state(source)
        if state.get("status") != "revoked":
            raise DrillCheckFailed(
                f"the vendor exit failed: {source}'s credentials are {state.get('status')!r} "
                "after the revocation",
                fix=fix,
            )

    def rollback(self, why: str) -> None:
        """Undo every change; after a passing drill, hold and gate the weights restored."""
        self.progress(f"rollback ({why})")
        restore(self.target, self.journal)
        if why == "the drill passed":
            self.phase("rollback", self.before, self.hold(SETTLE_S), "to rollback")

    def account(self) -> None:
        """Once the drill is over: stop the load, add the tail as a last row, and recount
        every row from all the requests the load scheduled (a request with no record is
        `lost`), so the rows' totals equal the schedule; the load's totals and timeline."""
        scheduled = self.load.stop()
        records = self.load.accounted()
        phases = self.journal.exitplan["phases"]
        end = max(self.mark, scheduled / self.load.rate)
        if end > self.mark or not phases:
            phases.append({"name": "load end", "kind": "transition", "start_s": self.mark})
        phases[-1]["end_s"] = end + 1.0  # the last row takes the tail
        for row in phases:
            window = window_summary(records, row["start_s"], row["end_s"], self.load.rate)
            row.update(_row(row["name"], row["kind"], row["start_s"], row["end_s"], window))
        whole = loadgen.summarize(
            records, rate=self.load.rate, duration_s=max(end, 1.0 / self.load.rate)
        )
        self.journal.exitplan["load"] = {
            "scheduled": scheduled,
            "accounted": sum(row["sent"] for row in phases),
            "failed": whole.failed,
            "lost": whole.lost,
            "wrong_answers": whole.wrong_answers,
            "errors": whole.errors,
            "lag_p50_ms": whole.lag_p50_ms,
            "lag_p99_ms": whole.lag_p99_ms,
            "lag_max_ms": whole.lag_max_ms,
            "max_lag_ms": self.options.max_lag_ms,
            "reference": str(self.load.reference) if self.load.reference else None,
        }
        self.journal.exitplan["timeline"] = whole.timeline
        self.journal.save()


def _row(
    name: str, kind: str, start: float, end: float, summary: loadgen.LoadSummary
) -> dict[str, Any]:
    """One row of the journal's `phases`."""
    return {
        "name": name,
        "kind": kind,
        "start_s": round(start, 3),
        "end_s": round(end, 3),
        "sent": summary.sent,
        "failed": summary.failed,
        "errors": summary.errors,
        "p50_ms": summary.p50_ms,
        "p99_ms": summary.p99_ms,
        "lag_p99_ms": summary.lag_p99_ms,
        "share": summary.share,
    }


def _rpo(target: Target, options: ExitPlanOptions) -> dict[str, Any]:
    """The model each stack serves, by digest: `lag_versions` 0 when --to serves --from's."""
    source, dest = target.model_digest(options.source), target.model_digest(options.dest)
    return {"from_digest": source, "to_digest": dest, "lag_versions": 0 if source == dest else 1}


def _store_lag(target: Target, options: ExitPlanOptions) -> dict[str, Any]:
    """How far --to's model store trails --from's: the newest object on each (read through
    the target) and the difference, `store_lag_s` (None, with why, where a store is unread)."""
    newest: dict[str, float | None] = {}
    unread = []
    for stack in (options.source, options.dest):
        why = f"the {target.kind} target cannot read its store"
        try:
            newest[stack] = target.store_newest(stack)
        except PublishError as exc:
            newest[stack], why = None, str(exc)
        if newest[stack] is None:
            unread.append(f"{stack}: {why}")
    first, second = newest[options.source], newest[options.dest]
    lag = None if first is None or second is None else round(max(0.0, first - second), 3)
    return {
        "from_store_newest": first,
        "to_store_newest": second,
        "store_lag_s": lag,
        "store_unread": "; ".join(unread) or None,
    }


def _cost(project: Project, options: ExitPlanOptions) -> dict[str, float | None]:
    def hourly(name: str) -> float:
        stack = project.stack(name)
        return round(stack.plan.gpu_instance.usd_per_hour * max(stack.spec.gpu.min_nodes, 1), 3)

    return {"before": hourly(options.source), "after": hourly(options.dest)}
