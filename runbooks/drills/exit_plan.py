"""The exit-plan drill: under open-loop load, move all traffic from one cloud to another in
gated canary steps, revoke the old cloud's credentials, verify, and (unless kept) roll back.

Phases (each timestamped in the journal): pre-flight, baseline, canary steps (the last is the
cutover), vendor exit, verify, rollback. A failed gate rolls back and exits 1; Ctrl-C rolls back
and exits 130; a drill killed outright is undone by `exitplan drill rollback JOURNAL`, on the
target the journal names.

What the target cannot do is checked once, in the pre-flight, before anything changes: the
drill's own operations must all be there; the vendor exit's revocation is skipped, saying why,
on a target that cannot revoke the --from stack's key (the verdict says it was not revoked)."""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from functools import partial
from pathlib import Path
from typing import Any

from components.catalog.clouds import facts
from components.stack_config import Project
from model_packaging.progress import Progress, reporter
from runbooks.errors import DrillCheckFailed, DrillInterrupted, RunbookError
from runbooks.load import generator as loadgen
from runbooks.load.background import BackgroundLoad
from runbooks.reports.journal import Journal
from runbooks.targets.target import Need, Target, missing, require

SETTLE_S = 0.5  # after a weight change, before the gate's window opens
LOAD_MARGIN_S = 4.0
TICK_S = 0.25  # a hold advances the progress this often
# What the drill asks of its target on both stacks, whatever the options.
DRILL_OPERATIONS = ("health", "model_digest", "store_uri")
ROUTER_OPERATIONS = ("stacks", "endpoint", "weights", "set_weights")
# The vendor exit: revoke --from's key; undone by a new key and a redeploy with it.
REVOKE = "revoke_credentials"
UNDO_REVOKE = ("rotate_credentials", "redeploy")


@dataclass(frozen=True)
class ExitPlanOptions:
    """What `exitplan drill exit-plan` was asked to do."""

    source: str
    dest: str
    rate: float = 200.0
    canary: tuple[int, ...] = (1, 10, 50, 100)
    hold_s: float = 5.0
    slo_p99_ms: float | None = None
    max_error_rate: float = 0.0
    baseline_factor: float = 3.0
    rto_s: float | None = None
    keep: bool = False


@dataclass(frozen=True)
class Check:
    """One pre-flight check."""

    name: str
    passed: bool
    detail: str
    fix: str = ""


def preflight(project: Project, target: Target, options: ExitPlanOptions) -> list[Check]:
    """Every check that must hold before anything changes."""
    if options.source == options.dest:
        raise RunbookError("--from and --to are the same stack", fix="pick two stacks")
    source, dest = (
        project.stack(s, field=f) for s, f in ((options.source, "--from"), (options.dest, "--to"))
    )
    for stack in (source, dest):
        if stack.name not in target.stacks():
            raise RunbookError(
                f"{stack.name} is not one of the {target.kind} target's stacks "
                f"({', '.join(target.stacks())})",
                fix=f"start it in the sandbox (exitplan sandbox up --stacks {stack.name} ...), "
                "or route it from the router stack's exitplan:traffic.weights",
            )
    if list(options.canary) != sorted(options.canary) or options.canary[-1] != 100:
        raise RunbookError(
            f"canary steps {options.canary} must rise to 100", fix="e.g. 1,10,50,100"
        )
    require(target, needs(target, options), f"the exit-plan drill {source.name} -> {dest.name}")
    store = target.store_uri(dest.name)
    own_scheme = facts(dest.spec.provider).store_scheme
    digests = {s: target.model_digest(s) for s in (source.name, dest.name)}
    return [
        Check(
            "both stacks healthy",
            target.health(source.name) and target.health(dest.name),
            f"{source.name}: {target.health(source.name)}, {dest.name}: {target.health(dest.name)}",
            "exitplan sandbox status; restart the unhealthy stack",
        ),
        Check(
            "--to is in another provider",
            source.spec.provider != dest.spec.provider,
            f"{source.spec.provider} -> {dest.spec.provider}",
            "an exit plan moves to another cloud: pick a stack on another provider",
        ),
        Check(
            "same model digest on both",
            len(set(digests.values())) == 1,
            ", ".join(f"{k}: {v[:19]}" for k, v in digests.items()),
            "publish the same package to both stores (exitplan package --publish)",
        ),
        Check(
            "--to does not depend on --from's provider",
            store.startswith(f"{own_scheme}://"),
            f"{dest.name} reads its model from {store}",
            "give the standby a model store in its own cloud",
        ),
        Check(
            "both stacks drillable",
            source.spec.drillable and dest.spec.drillable,
            f"{source.name}: {source.spec.drillable}, {dest.name}: {dest.spec.drillable}",
            "set drillable: true in both stack files",
        ),
    ]


def revoke_gap(target: Target, options: ExitPlanOptions) -> str | None:
    """Why the target cannot revoke --from's key (the vendor exit skips it), or None."""
    gaps = missing(target, [Need(REVOKE, options.source)])
    return next(iter(gaps.values()), None)


def undo_revoke(target: Target, stack: str) -> tuple[str, ...]:
    """What undoing the revocation of `stack`'s credentials asks of the target: a rotation (a
    new key; on a live IRSA role, its deny policy removed), then a redeploy with it where the
    target can redeploy the stack (where it cannot, `restore` records the target's reason)."""
    can_redeploy = not missing(target, [Need("redeploy", stack)])
    return UNDO_REVOKE if can_redeploy else UNDO_REVOKE[:1]


def needs(target: Target, options: ExitPlanOptions) -> list[Need]:
    """Every operation the drill will ask of the target: the router's, its probes on both
    stacks, and, when the vendor exit can revoke --from's key, what undoing that takes."""
    wanted = [Need(op) for op in ROUTER_OPERATIONS]
    wanted += [Need(op, s) for op in DRILL_OPERATIONS for s in (options.source, options.dest)]
    if revoke_gap(target, options) is None:
        undo = undo_revoke(target, options.source)
        wanted += [Need(op, options.source) for op in (REVOKE, *undo)]
    return wanted


def planned_steps(
    options: ExitPlanOptions, before: dict[str, int], skipped_revoke: str | None = None
) -> list[str]:
    """Every step the drill would take, with its exact changes (for --dry); `skipped_revoke`:
    why the vendor exit cannot revoke --from's key on this target."""
    steps = [
        f"pre-flight checks on {options.source} and {options.dest}",
        f"baseline: {options.hold_s:g} s at {options.rate:g} req/s with weights {before}",
    ]
    for step in options.canary:
        weights = {**before, options.source: 100 - step, options.dest: step}
        steps.append(f"canary {step}%: set weights {weights}; hold {options.hold_s:g} s; gate")
    if skipped_revoke:
        steps.append(f"vendor exit: NOT revoking {options.source}'s credentials ({skipped_revoke})")
    else:
        steps.append(f"vendor exit: revoke {options.source}'s store credentials")
    steps.append(f"verify: {options.hold_s:g} s on {options.dest} alone")
    if not options.keep:
        undo = (
            ""
            if skipped_revoke
            else f"rotate {options.source}'s credentials (a new key; the revoked one stays "
            "revoked) and redeploy it; then "
        )
        steps.append(f"rollback: {undo}weights back to {before}; steady state")
    return steps


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
    checks = preflight(project, target, options)
    before = target.weights()
    dest_stack = project.stack(options.dest)
    journal = Journal.new(
        journal_path,
        f"{options.source} -> {options.dest}",
        {
            "from": options.source,
            "to": options.dest,
            "target": target.kind,
            "rate": options.rate,
            "rto_target_s": options.rto_s,
            "rto_estimate_s": dest_stack.rto.total_s if dest_stack.rto else None,
            "rto_measured_s": None,
            "rpo": _rpo(target, options),
            "weights_before": before,
            "cost_per_hour": _cost(project, options),
            "checks": [c.__dict__ for c in checks],
            "revoke_skipped": revoke_gap(target, options),
        },
    )
    failed = [c for c in checks if not c.passed]
    if failed:
        journal.finish("failed", False, f"pre-flight failed: {failed[0].name}")
        raise DrillCheckFailed(
            f"pre-flight check failed: {failed[0].name} ({failed[0].detail})", fix=failed[0].fix
        )
    holds = len(options.canary) + 3 + (0 if options.keep else 1)
    model = project.stack(options.source).spec.triton.models[0].name
    duration = holds * options.hold_s + 2 * LOAD_MARGIN_S
    load = BackgroundLoad(target, model, options.rate, duration, journal_path.parent)
    progress = reporter(progress)
    planned = SETTLE_S + holds * options.hold_s
    progress.stage("drill", f"{options.source} -> {options.dest}", total=planned, unit="s")
    drill = _Drill(target, options, journal, load, before, progress)
    load.start()
    try:
        drill.run()
        _conclude(journal, options)
        progress.done()
    except KeyboardInterrupt:
        drill.rollback("interrupted")
        journal.finish("interrupted", False, "interrupted (Ctrl-C); rolled back")
        raise DrillInterrupted("interrupted; every change was rolled back") from None
    except DrillCheckFailed as exc:
        drill.rollback("a gate failed")
        journal.finish("failed", False, exc.cause)
        raise
    finally:
        load.stop()
        journal.exitplan["timeline"] = loadgen.summarize(
            load.records(), rate=options.rate, duration_s=max(load.now(), 1e-3)
        ).timeline
        journal.save()
    return journal


def _conclude(journal: Journal, options: ExitPlanOptions) -> None:
    """The verdict of a drill whose gates all passed: the RTO against its target."""
    ep = journal.exitplan
    rto = ep["rto_measured_s"]
    failed = sum(p["failed"] for p in ep["phases"])
    sent = sum(p["sent"] for p in ep["phases"])
    missed = options.rto_s is not None and rto > options.rto_s
    ending = "stayed on " + options.dest if options.keep else "rolled back"
    skipped = ep.get("revoke_skipped")
    vendor_exit = (
        f"{options.source}'s credentials NOT revoked ({skipped})"
        if skipped
        else f"{options.source}'s credentials revoked without effect on the service"
    )
    summary = (
        f"all traffic on {options.dest} in {rto:.1f} s"
        + (f" (RTO target {options.rto_s:g} s missed)" if missed else "")
        + f"; {failed} of {sent} requests failed; {vendor_exit}; {ending}"
    )
    journal.finish("completed", not missed, summary)


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

    def phase(self, name: str, start: float, end: float) -> loadgen.LoadSummary:
        summary = self.load.window(start, end)
        self.journal.exitplan["phases"].append(
            {
                "name": name,
                "start_s": round(start, 3),
                "end_s": round(end, 3),
                "sent": summary.sent,
                "failed": summary.failed,
                "p50_ms": summary.p50_ms,
                "p99_ms": summary.p99_ms,
                "share": summary.share,
            }
        )
        self.journal.save()
        return summary

    def hold(self) -> tuple[float, float]:
        start = self.load.now()
        self.wait(self.options.hold_s)
        return start, self.load.now()

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

    def run(self) -> None:
        o = self.options
        self.wait(SETTLE_S)
        self.progress(f"baseline: {o.hold_s:g} s at {o.rate:g} req/s")
        start, end = self.hold()
        baseline = self.phase("baseline", start, end)
        self.baseline_p99 = baseline.p99_ms
        achieved = (baseline.sent - baseline.failed) / max(end - start, 1e-3)
        if baseline.failed or achieved < 0.9 * o.rate:
            suggested = max(1, int(achieved * 0.7))
            raise DrillCheckFailed(
                f"the target cannot sustain {o.rate:g} req/s: the baseline achieved "
                f"{achieved:.0f} req/s with {baseline.failed} failed requests",
                fix=f"run the drill at a rate it sustains, e.g. --rate {suggested}",
            )
        self.journal.data["steady_states"]["before"] = {
            "p99_ms": baseline.p99_ms,
            "failed": baseline.failed,
        }
        cutover_start = self.load.now()
        for step in o.canary:
            weights = {**self.before, o.source: 100 - step, o.dest: step}
            self.progress(f"canary {step}% on {o.dest}")
            self.set_weights(weights, f"canary {step}% to {o.dest}")
            start, end = self.hold()
            # The gate's window opens once connections opened before the change have drained.
            summary = self.phase(
                f"canary {step}%" if step < 100 else "cutover", start + SETTLE_S, end
            )
            self.gate(step, summary)
        self.journal.exitplan["rto_measured_s"] = round(self.load.now() - cutover_start, 3)
        self.progress(f"vendor exit: revoking {o.source}'s credentials")
        start = self.load.now()
        self.vendor_exit()
        _, end = self.hold()
        self.gate(100, self.phase("vendor exit", start, end))
        self.progress(f"verify: {o.dest} alone")
        start, end = self.hold()
        verify = self.phase("verify", start, end)
        self.gate(100, verify)
        self.journal.data["steady_states"]["after"] = {
            "p99_ms": verify.p99_ms,
            "failed": verify.failed,
        }
        if not o.keep:
            self.rollback("the drill passed")

    def gate(self, step: int, summary: loadgen.LoadSummary) -> None:
        o = self.options
        error_rate = summary.failed / summary.sent if summary.sent else 1.0
        limit = self.baseline_p99 * o.baseline_factor + 1.0
        reasons = []
        if error_rate > o.max_error_rate:
            reasons.append(f"error rate {error_rate:.2%} > {o.max_error_rate:.2%}")
        if o.slo_p99_ms is not None and summary.p99_ms > o.slo_p99_ms:
            reasons.append(f"p99 {summary.p99_ms:.1f} ms > SLO {o.slo_p99_ms:g} ms")
        if summary.p99_ms > limit:
            reasons.append(
                f"p99 {summary.p99_ms:.1f} ms > {o.baseline_factor:g}x baseline "
                f"{self.baseline_p99:.1f} ms (+1 ms)"
            )
        passed = not reasons
        self.journal.exitplan["gates"].append(
            {
                "step": step,
                "passed": passed,
                "error_rate": error_rate,
                "p99_ms": summary.p99_ms,
                "slo_p99_ms": o.slo_p99_ms,
                "baseline_p99_ms": self.baseline_p99,
                "reason": "; ".join(reasons) or "met",
            }
        )
        self.journal.save()
        if not passed:
            raise DrillCheckFailed(
                f"gate at {step}% on {o.dest} failed: {'; '.join(reasons)}",
                fix="look at the report's timeline; fix the standby or loosen "
                "--slo-p99-ms / --max-error-rate if the limit is wrong",
            )

    def vendor_exit(self) -> None:
        source = self.options.source
        skipped = self.journal.exitplan.get("revoke_skipped")
        if skipped:  # the pre-flight found the target cannot revoke it: nothing to undo
            detail = f"{source}'s store key not revoked: {skipped}"
            self.journal.change("credentials", detail, stack=source)["restored"] = None
            self.journal.save()
            return
        self.journal.change("credentials", f"revoked {source}'s store key", stack=source)
        self.journal.activity(
            f"revoke {source} credentials",
            "action",
            lambda: self.target.revoke_credentials(source),
        )

    def rollback(self, why: str) -> None:
        self.progress(f"rollback ({why})")
        restore(self.target, self.journal)
        start, end = self.hold() if why == "the drill passed" else (self.load.now(),) * 2
        if end > start:
            self.phase("rollback", start, end)


def restore(target: Target, journal: Journal) -> list[str]:
    """Undo every change the journal records that is not restored yet (safe to run twice).
    Revoked credentials first, while traffic still avoids that stack: a rotation (never the
    revoked key back) and a redeploy with it where the target can (else its reason is kept on
    the change); then the weights, back to the first recorded 'before', even when restoring
    credentials failed (that error is raised after)."""
    done = []
    changes = journal.exitplan["changes"]
    moved = any(c["what"] == "weights" and not c["restored"] for c in changes)
    revoked = [c for c in changes if c["what"] == "credentials" and c["restored"] is False]
    undo = [Need("set_weights")] if moved else []
    undo += [Need(op, c["stack"]) for c in revoked for op in undo_revoke(target, c["stack"])]
    require(target, undo, f"rolling back {journal.path}")
    failed: Exception | None = None
    for change in revoked:
        stack: str = change["stack"]
        try:
            journal.activity(
                f"rotate {stack} credentials",
                "action",
                partial(target.rotate_credentials, stack),
                rollback=True,
            )
            if "redeploy" in undo_revoke(target, stack):
                journal.activity(
                    f"redeploy {stack}", "action", partial(target.redeploy, stack), rollback=True
                )
            else:
                change["not_redeployed"] = missing(target, [Need("redeploy", stack)]).popitem()[1]
        except Exception as exc:  # the weights are restored all the same, then this is raised
            failed = failed or exc
            continue
        change["restored"] = True
        done.append(f"credentials of {stack}")
    weights = [c for c in changes if c["what"] == "weights" and not c["restored"]]
    if weights:
        original = weights[0]["before"]
        journal.activity(
            f"restore weights {original}",
            "action",
            lambda: target.set_weights(original),
            rollback=True,
        )
        for change in weights:
            change["restored"] = True
        done.append(f"weights {original}")
    journal.save()
    if failed is not None:
        raise failed
    return done


def _rpo(target: Target, options: ExitPlanOptions) -> dict[str, Any]:
    source, dest = target.model_digest(options.source), target.model_digest(options.dest)
    return {"from_digest": source, "to_digest": dest, "lag_versions": 0 if source == dest else 1}


def _cost(project: Project, options: ExitPlanOptions) -> dict[str, float | None]:
    def hourly(name: str) -> float:
        stack = project.stack(name)
        return round(stack.plan.gpu_instance.usd_per_hour * max(stack.spec.gpu.min_nodes, 1), 3)

    return {"before": hourly(options.source), "after": hourly(options.dest)}
