"""Exit readiness of each inventory service: the named rules (`RULES`), each with an id, a
severity and a fix, judged from the inventory row and the facts the project already knows:
the service's stacks (those whose spec `name` is the service), their achievable RTO (measured
by the latest `exitplan drill failover` journal of the standby, else the catalog estimate,
labelled so), the drill journals on disk and the model package's parity report.

With several failover stacks, the one judged is the best (lowest achievable RTO) in another
provider, else the best of them all. The first three rules are `critical` for `single-point`
services (the CLI exits 1 when one fails), `warning` otherwise; the others are `warning`."""

from __future__ import annotations

import datetime as dt
import json
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

from components.catalog import today
from components.catalog.operations import company
from components.stack_config import Project, Stack
from runbooks.rehearsal.inventory import OTHER_PROVIDER, InventoryRow, format_duration
from runbooks.reports.kit import parse_time

Severity = Literal["critical", "warning"]
Status = Literal["pass", "fail", "n/a"]
MAX_DRILL_AGE_DAYS = 90
KEYLESS = ("workload-identity", "iam-role")


@dataclass(frozen=True)
class Finding:
    """One rule's verdict on one service: pass, fail or n/a, why, and what to do."""

    rule: str
    title: str
    severity: Severity
    status: Status
    evidence: str
    fix: str

    def as_dict(self) -> dict[str, str]:
        """The finding as `--json` carries it."""
        return dict(self.__dict__)


@dataclass(frozen=True)
class Failover:
    """A failover stack and its achievable RTO: `basis` "measured" (the latest failover drill
    journal of the stack) or "estimate" (catalog figures); seconds None when neither is known
    (the stack is no standby)."""

    stack: str
    provider: str
    rto_s: float | None
    basis: Literal["measured", "estimate", "unknown"]
    drill: dict[str, Any] | None  # the latest failover drill journal to it, if any

    def as_dict(self) -> dict[str, Any]:
        """The failover as `--json` carries it (the journal as its path and verdict)."""
        drill = self.drill
        return {
            "stack": self.stack,
            "provider": self.provider,
            "achievable_rto_s": self.rto_s,
            "basis": self.basis,
            "drill": None if drill is None else {"journal": drill["_path"], **_drill_facts(drill)},
        }

    @property
    def rto_text(self) -> str:
        """`90 s (estimate)` or `41.2 s (measured)` or `unknown`."""
        if self.rto_s is None:
            return "unknown"
        return f"{self.rto_s:g} s ({self.basis})"


@dataclass
class Readiness:
    """One service: its row, the failover judged, and each rule's finding."""

    row: InventoryRow
    failover: Failover | None
    findings: list[Finding] = field(default_factory=list)

    @property
    def score(self) -> float | None:
        """Passed over judged (n/a left out); None when no rule applies."""
        judged = [f for f in self.findings if f.status != "n/a"]
        return sum(f.status == "pass" for f in judged) / len(judged) if judged else None

    @property
    def critical_failures(self) -> list[Finding]:
        """The failed findings of severity critical."""
        return [f for f in self.findings if f.status == "fail" and f.severity == "critical"]

    def as_dict(self) -> dict[str, Any]:
        """The service's readiness as `--json` carries it."""
        row = self.row
        return {
            "service": row.service,
            "provider": row.provider,
            "criticality": row.criticality,
            "owner": row.owner,
            "rto_target_s": row.rto_s,
            "failover": self.failover.as_dict() if self.failover else None,
            "score": self.score,
            "rules": [f.as_dict() for f in self.findings],
        }


@dataclass(frozen=True)
class Context:
    """What the rules read besides the row: the project, the drill journals on disk."""

    project: Project
    journals: list[dict[str, Any]]


Verdict = tuple[Status, str, str]  # status, evidence, fix
Rule = Callable[[InventoryRow, Failover | None, Context], Verdict]


def service_stacks(project: Project, service: str) -> list[Stack]:
    """The stacks whose spec `name` is `service`, in name order."""
    stacks = (project.stack(name) for name in project.stack_names())
    return [s for s in stacks if s.spec.name == service]


def primary_of(project: Project, row: InventoryRow, stack: str) -> str:
    """The stack a failover to `stack` leaves: its standby's primary, else the service's own
    stack (kind service), else "PRIMARY"."""
    found = project.stack(stack)
    if found.standby is not None:
        return found.standby.primary
    own = [s.name for s in service_stacks(project, row.service) if s.kind == "service"]
    return own[0] if own else "PRIMARY"


def read_journals(folder: Path) -> list[dict[str, Any]]:
    """Every drill journal under `folder` (`drills/*/journal.json`, or `*/journal.json` when
    `folder` is the drills folder itself), read defensively: unreadable or foreign files are
    skipped. Each carries its path under `_path`."""
    paths = sorted({*folder.glob("drills/*/journal.json"), *folder.glob("*/journal.json")})
    found = []
    for path in paths:
        try:
            data = json.loads(path.read_text())
        except (OSError, ValueError):
            continue
        if isinstance(data, dict) and isinstance(data.get("exitplan"), dict):
            found.append({**data, "_path": str(path)})
    return found


def latest_failover_drill(journals: list[dict[str, Any]], stack: str) -> dict[str, Any] | None:
    """The latest `exitplan drill failover` journal whose standby (`to`) is `stack`, by start
    time (exit-plan drills are planned cutovers, not failure RTOs: left out)."""
    drills = [
        j
        for j in journals
        if j["exitplan"].get("drill") == "failover"
        and j["exitplan"].get("to") == stack
        and parse_time(j.get("start")) is not None
    ]
    return max(drills, key=lambda j: parse_time(j["start"]) or dt.datetime.min, default=None)


def _drill_facts(journal: dict[str, Any]) -> dict[str, Any]:
    """A failover journal's start, verdict and RTOs, whatever of them it holds."""
    ex = journal["exitplan"]
    rto = ex.get("rto") if isinstance(ex.get("rto"), dict) else {}
    verdict = ex.get("verdict") if isinstance(ex.get("verdict"), dict) else {}
    return {
        "start": journal.get("start"),
        "passed": verdict.get("passed") is True,
        "achievable_rto_s": _number(rto.get("achievable_rto_s")),
        "measured_rto_s": _number(rto.get("measured_rto_s")),
    }


def _number(value: Any) -> float | None:
    return float(value) if isinstance(value, int | float) and not isinstance(value, bool) else None


def failover_of(project: Project, stack: str, journals: list[dict[str, Any]]) -> Failover:
    """A failover stack and its achievable RTO: measured by its latest failover drill when that
    drill measured one, else the catalog estimate of the standby."""
    found = project.stack(stack)
    drill = latest_failover_drill(journals, stack)
    measured = _drill_facts(drill)["achievable_rto_s"] if drill else None
    if measured is not None:
        return Failover(stack, found.spec.provider, measured, "measured", drill)
    if found.rto is not None:
        return Failover(stack, found.spec.provider, found.rto.total_s, "estimate", drill)
    return Failover(stack, found.spec.provider, None, "unknown", drill)


def judged_failover(row: InventoryRow, context: Context) -> Failover | None:
    """The failover judged: the lowest achievable RTO in another provider, else of all."""
    options = [failover_of(context.project, s, context.journals) for s in row.failover_plan]
    elsewhere = [f for f in options if f.provider != row.provider] or options
    return min(
        elsewhere, key=lambda f: f.rto_s if f.rto_s is not None else float("inf"), default=None
    )


def failover_in_another_provider(
    row: InventoryRow, failover: Failover | None, _: Context
) -> Verdict:
    """A single-point service has a failover stack in another provider."""
    fix = (
        f"add a standby stack of {row.service} on another cloud (stacks/Pulumi.<name>.yaml with "
        "exitplan:standby) and list it in failover_plan"
    )
    if not row.single_point:
        return "n/a", f"{row.criticality}: no failover required", fix
    if failover is None:
        return "fail", "failover_plan is empty", fix
    if failover.provider == row.provider:
        return "fail", f"every failover stack runs on {row.provider} ({failover.stack})", fix
    return "pass", f"{failover.stack} on {failover.provider} (service on {row.provider})", fix


def achievable_rto(row: InventoryRow, failover: Failover | None, context: Context) -> Verdict:
    """The failover's achievable RTO is within the service's `rto`."""
    target = format_duration(row.rto_s)
    if failover is None:
        if row.single_point:
            return (
                "fail",
                f"no failover stack: nothing recovers within {target}",
                ("add a standby in another cloud to failover_plan"),
            )
        return "n/a", "no failover stack", ""
    primary = primary_of(context.project, row, failover.stack)
    fix = (
        f"raise {failover.stack}'s standby level (exitplan:standby.level: warm or hot), or "
        f"measure it: exitplan drill failover --from {primary} --to {failover.stack}"
    )
    if failover.rto_s is None:
        return "fail", f"{failover.stack} is no standby: no achievable RTO known", fix
    within = failover.rto_s <= row.rto_s
    sign = "<=" if within else ">"
    evidence = f"{failover.stack}: {failover.rto_text} {sign} rto {target}"
    return ("pass" if within else "fail"), evidence, fix


def keyless_auth(row: InventoryRow, _failover: Failover | None, _: Context) -> Verdict:
    """Auth is workload identity or a role, not a static key or an API key."""
    fix = (
        "use workload identity (IRSA, Azure or GKE workload identity) or a role; where the "
        "vendor offers only keys, rotate them on a schedule and vault them"
    )
    passed = row.auth_method in KEYLESS
    return ("pass" if passed else "fail"), f"auth_method {row.auth_method}", fix


def recent_passing_drill(row: InventoryRow, failover: Failover | None, context: Context) -> Verdict:
    """The last failover drill of the failover stack passed, is younger than 90 days and met
    the `rto`."""
    if failover is None:
        if row.single_point:
            return "fail", "no failover stack to drill", "add a standby in another cloud first"
        return "n/a", "no failover stack", ""
    primary = primary_of(context.project, row, failover.stack)
    fix = f"exitplan drill failover --from {primary} --to {failover.stack}"
    if failover.drill is None:
        return "fail", f"no failover drill of {failover.stack} on record", fix
    facts = _drill_facts(failover.drill)
    started = parse_time(facts["start"])
    assert started is not None  # latest_failover_drill keeps only dated journals
    age = (today() - started.date()).days
    rto = facts["achievable_rto_s"]
    problems = []
    if not facts["passed"]:
        problems.append("it failed")
    if age >= MAX_DRILL_AGE_DAYS:
        problems.append(f"{age} days old (max {MAX_DRILL_AGE_DAYS - 1})")
    if rto is None or rto > row.rto_s:
        shown = "no RTO" if rto is None else f"RTO {rto:g} s"
        problems.append(f"{shown} against rto {format_duration(row.rto_s)}")
    when = started.date().isoformat()
    evidence = f"{failover.stack} drilled {when} ({age} days ago)"
    evidence += f": {'; '.join(problems)}" if problems else f", passed, RTO {rto:g} s"
    return ("fail" if problems else "pass"), evidence, fix


def model_parity(row: InventoryRow, _failover: Failover | None, context: Context) -> Verdict:
    """The model package (when given) has a passing parity report."""
    if not row.model_package:
        return "n/a", "no model_package", ""
    folder = Path(row.model_package)
    folder = folder if folder.is_absolute() else context.project.root / folder
    report = folder / "parity.json"
    fix = f"exitplan package MODEL --out {row.model_package} (writes parity.json)"
    try:
        passed = json.loads(report.read_text()).get("passed")
    except FileNotFoundError:
        return "fail", f"no parity.json in {row.model_package}", fix
    except (OSError, ValueError, AttributeError) as exc:
        return "fail", f"{report} unreadable: {exc}", fix
    if passed is not True:
        return "fail", f"{row.model_package}/parity.json: passed is {passed!r}", fix
    return "pass", f"{row.model_package}/parity.json passed", fix


def exit_terms(row: InventoryRow, _failover: Failover | None, _: Context) -> Verdict:
    """A single-point service records its exit clause and data export path."""
    if not row.single_point:
        return "n/a", f"{row.criticality}: not required", ""
    absent = [c for c in ("exit_clause", "data_export_path") if not getattr(row, c)]
    fix = "record the contract's exit clause and where the data and model are exported to"
    if absent:
        return "fail", f"{' and '.join(absent)} blank", fix
    return "pass", "exit_clause and data_export_path recorded", fix


def no_concentration(row: InventoryRow, _failover: Failover | None, context: Context) -> Verdict:
    """The model provider is not the company of the only cloud the service runs on."""
    ran = {s.spec.provider for s in service_stacks(context.project, row.service)}
    ran |= {row.provider} - {OTHER_PROVIDER}
    if not ran:
        return "n/a", f"runs on {OTHER_PROVIDER}: no registered cloud to compare", ""
    fix = "run a standby on another cloud, or serve a model from another company"
    if len(ran) > 1:
        return "pass", f"runs on {', '.join(sorted(ran))}", fix
    (cloud,) = ran
    runner = company(cloud)  # catalog cloud_operations.csv, with its source
    named = [
        w for w in runner.names if re.search(rf"\b{re.escape(w)}\b", row.model_provider.lower())
    ]
    evidence = f"model by {row.model_provider}, runs only on {cloud} ({runner.name})"
    return ("fail" if named else "pass"), evidence, fix


# id -> (title, rule); the first three are critical for single-point services.
RULES: dict[str, tuple[str, Rule]] = {
    "failover-in-another-provider": ("failover in another provider", failover_in_another_provider),
    "achievable-rto": ("achievable RTO <= rto", achievable_rto),
    "keyless-auth": ("workload identity or a role", keyless_auth),
    "recent-passing-drill": ("last drill passed, < 90 days, met rto", recent_passing_drill),
    "model-parity": ("model package parity passed", model_parity),
    "exit-terms-recorded": ("exit clause and export path", exit_terms),
    "no-concentration": ("model provider is not the only cloud", no_concentration),
}
CRITICAL_RULES = tuple(RULES)[:3]


def severity(rule: str, row: InventoryRow) -> Severity:
    """`critical` for the first three rules on a single-point service, else `warning`."""
    return "critical" if row.single_point and rule in CRITICAL_RULES else "warning"


def assess(rows: list[InventoryRow], context: Context) -> list[Readiness]:
    """Every rule on every service."""
    result = []
    for row in rows:
        failover = judged_failover(row, context)
        readiness = Readiness(row, failover)
        for rule, (title, check) in RULES.items():
            status, evidence, fix = check(row, failover, context)
            finding = Finding(rule, title, severity(rule, row), status, evidence, fix)
            readiness.findings.append(finding)
        result.append(readiness)
    return result


def overall_score(services: list[Readiness]) -> float | None:
    """Passed over judged findings of every service; None when none applies."""
    judged = [f for s in services for f in s.findings if f.status != "n/a"]
    return sum(f.status == "pass" for f in judged) / len(judged) if judged else None
