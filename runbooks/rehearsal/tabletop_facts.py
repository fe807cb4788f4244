"""The live facts a tabletop's texts name as `{{ fact_name }}`: read from the project when the
rehearsal runs, never typed into the scenario, each with where it comes from.

The service's primary is its stack of kind `service`; its standby is the one the scenario
names, else the router's failover secondary, else its first standby. Facts are computed on
first use (a plan is read from the plan cache, `components.planning.cache`), so a scenario
pays only for the facts it names. A fact without a value (no inventory, no drill journal yet)
says so in its value: the gap is itself worth seeing in the room.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path
from typing import Any

from components.catalog import today
from components.catalog.clouds import facts as cloud_facts
from components.errors import InputError
from components.planning.runner import Plan
from components.stack_config import Project, Stack
from runbooks.reports.kit import format_secs, money, parse_time


@dataclass(frozen=True)
class Fact:
    """A fact's current value and where it comes from."""

    name: str
    value: str
    source: str
    description: str

    def as_dict(self) -> dict[str, str]:
        """The fact for `--json` and the minutes."""
        return {
            "name": self.name,
            "value": self.value,
            "source": self.source,
            "description": self.description,
        }


Getter = Callable[["ProjectFacts"], tuple[str, str]]
FACTS: dict[str, tuple[str, Getter]] = {}


def fact(description: str) -> Callable[[Getter], Getter]:
    """Register a method returning (value, source) as the fact of its name."""

    def register(getter: Getter) -> Getter:
        FACTS[getter.__name__] = (description, getter)
        return getter

    return register


@dataclass(frozen=True)
class Where:
    """What the facts are about: the project, the service and its stacks, the inventory and
    the folder of drill journals."""

    project: Project
    service: str
    primary: str | None = None
    standby: str | None = None
    inventory: Path | None = None
    journals: Path | None = None
    file: str = ""  # the scenario file that named the service and stacks, for errors


class ProjectFacts:
    """The facts of one service, each computed once on first use."""

    def __init__(self, where: Where) -> None:
        self.where = where
        self.project = where.project
        self.primary = self._primary()
        self.standby = self._standby()
        self._planned: dict[str, Plan] = {}
        self._cache: dict[str, Fact] = {}

    def get(self, name: str) -> Fact:
        """The fact `name` (a KeyError when no such fact is registered)."""
        if name not in self._cache:
            description, getter = FACTS[name]
            value, source = getter(self)
            self._cache[name] = Fact(name, value, source, description)
        return self._cache[name]

    def values(self, names: list[str]) -> dict[str, str]:
        """The values of the named facts."""
        return {name: self.get(name).value for name in names}

    def _primary(self) -> Stack:
        w = self.where
        if w.primary:
            stack = self.project.stack(w.primary, field="stacks.primary", referrer=w.file)
        else:
            found = [
                s
                for s in map(self.project.stack, self.project.stack_names())
                if s.kind == "service" and s.spec.name == w.service
            ]
            if not found:
                services = sorted(
                    {
                        s.spec.name
                        for s in map(self.project.stack, self.project.stack_names())
                        if s.kind == "service"
                    }
                )
                raise InputError(
                    f"no stack serves {w.service!r}",
                    file=w.file,
                    field="service",
                    fix=f"use one of: {', '.join(services)}",
                )
            stack = found[0]
        if stack.spec.name != w.service:
            raise InputError(
                f"stack {stack.name} serves {stack.spec.name!r}, not {w.service!r}",
                file=w.file,
                field="stacks.primary",
                fix=f"name a stack of {w.service}",
            )
        return stack

    def _standby(self) -> Stack | None:
        w = self.where
        if w.standby:
            stack = self.project.stack(w.standby, field="stacks.standby", referrer=w.file)
            if stack.kind != "standby" or stack.spec.name != w.service:
                raise InputError(
                    f"stack {stack.name} is not a standby of {w.service}",
                    file=w.file,
                    field="stacks.standby",
                    fix="name a stack whose exitplan:standby.primary is the primary",
                )
            return stack
        standbys = [
            s
            for s in map(self.project.stack, self.project.stack_names())
            if s.kind == "standby" and s.standby and s.standby.primary == self.primary.name
        ]
        secondary = (
            self.router.traffic.failover.secondary
            if (self.router and self.router.traffic and self.router.traffic.failover)
            else None
        )
        preferred = [s for s in standbys if s.name == secondary]
        return next(iter(preferred or standbys), None)

    @cached_property
    def router(self) -> Stack | None:
        """The stack whose router routes the primary's traffic."""
        for stack in map(self.project.stack, self.project.stack_names()):
            if stack.traffic and self.primary.name in stack.traffic.stacks:
                return stack
        return None

    def plan(self, stack: Stack) -> Plan:
        """The stack's offline plan, from the plan cache."""
        from components.planning.cache import cached_plan

        return cached_plan(self.project, stack, self._planned)

    def _need_standby(self) -> Stack:
        if self.standby is None:
            raise InputError(
                f"{self.primary.name} has no standby",
                file=self.where.file,
                field="stacks.standby",
                fix="add a standby stack (exitplan:standby) or use no standby fact",
            )
        return self.standby

    # --- the stacks ---------------------------------------------------------------------------

    @fact("The service the rehearsal is about.")
    def service(self) -> tuple[str, str]:
        return self.primary.spec.name, f"{self.primary.relative}: exitplan:service.name"

    @fact("The primary stack, its cloud and region.")
    def primary_stack(self) -> tuple[str, str]:
        return _where(self.primary), self.primary.relative

    @fact("The standby stack, its cloud and region.")
    def standby_stack(self) -> tuple[str, str]:
        stack = self._need_standby()
        return _where(stack), stack.relative

    @fact("The standby's level (hot, warm, pilot-light).")
    def standby_level(self) -> tuple[str, str]:
        stack = self._need_standby()
        assert stack.standby is not None
        return stack.standby.level, f"{stack.relative}: exitplan:standby.level"

    @fact("The standby's achievable RTO: from the primary failing to the standby serving.")
    def achievable_rto(self) -> tuple[str, str]:
        stack = self._need_standby()
        rto = stack.rto
        assert rto is not None
        phases = ", ".join(p.name for p in rto.phases)
        return (
            f"{format_secs(rto.total_s)} (estimated at the {rto.level} level)",
            f"components/rto.py: catalog RTO figures per phase ({phases}); exitplan stacks list",
        )

    @fact("The store the primary's Triton reads its model from (the key a leak exposes).")
    def primary_store(self) -> tuple[str, str]:
        spec = self.primary.spec
        uri = cloud_facts(spec.provider).store_uri(spec.model_repository)
        return uri, f"{self.primary.relative}: exitplan:service.model_repository"

    @fact("The public name's DNS router: cloud, zone, TTL, the stack that owns it.")
    def dns_router(self) -> tuple[str, str]:
        if self.router is None or self.router.traffic is None:
            return "no router routes the primary", "stacks/: no exitplan:traffic names it"
        t = self.router.traffic
        return (
            f"{cloud_facts(t.dns_provider).display_name} DNS, zone {t.zone}, TTL {t.ttl_s} s "
            f"(owned by {self.router.name})",
            f"{self.router.relative}: exitplan:traffic",
        )

    @fact("The command that rehearses the exit from the primary to the standby.")
    def exit_plan_command(self) -> tuple[str, str]:
        stack = self._need_standby()
        return (
            f"exitplan drill exit-plan --from {self.primary.name} --to {stack.name}",
            "the primary and its standby",
        )

    # --- cost ---------------------------------------------------------------------------------

    def _hourly(self, stack: Stack) -> tuple[str, str]:
        from components.cost.estimate import estimate
        from components.cost.profile import HOURS_PER_MONTH, Profile

        cost = estimate(stack, self.plan(stack), Profile())
        level = f" at the {stack.standby.level} level" if stack.standby else ""
        return (
            f"{money(cost.monthly / HOURS_PER_MONTH)} (${cost.monthly:,.0f}/month{level})",
            f"exitplan cost {stack.name}: its planned resources at catalog prices, "
            "inference nodes at their minimum around the clock",
        )

    @fact("What the standby costs an hour, as planned (every resource priced).")
    def standby_cost_per_hour(self) -> tuple[str, str]:
        return self._hourly(self._need_standby())

    @fact("What the primary costs an hour, as planned (every resource priced).")
    def primary_cost_per_hour(self) -> tuple[str, str]:
        return self._hourly(self.primary)

    # --- parity -------------------------------------------------------------------------------

    @fact("Whether the primary and the standby plan equivalent deployments.")
    def parity_state(self) -> tuple[str, str]:
        from components.planning.parity import compare

        stack = self._need_standby()
        pair = [self.primary, stack]
        report = compare([self.plan(s) for s in pair], {**self.primary.gaps, **stack.gaps})
        expected = sum(r.status == "expected" for r in report.rows)
        if report.drift:
            value = f"DRIFT in {len(report.drift)} of {len(report.rows)} rows: " + ", ".join(
                r.row for r in report.drift
            )
        else:
            value = (
                f"equivalent: {len(report.rows)} rows compared, {expected} expected "
                "per-cloud differences"
            )
        return value, f"exitplan parity {self.primary.name} {stack.name} (offline plans)"

    # --- the last drill -----------------------------------------------------------------------

    @cached_property
    def last_drill(self) -> tuple[dict[str, Any] | None, Path]:
        """The latest drill journal (exit-plan or failover) whose destination is the standby,
        and the folder searched."""
        from runbooks.reports.scorecard import load_journals

        root = self.where.journals or self.project.root / ".exitplan"
        standby = self._need_standby().name
        journals = [
            j
            for kind, j in load_journals(root)
            if kind == "drills" and (j.get("exitplan") or {}).get("to") == standby
        ]
        latest = max(journals, key=lambda j: str(j.get("start") or ""), default=None)
        return latest, root / "drills"

    def _drill_source(self) -> str:
        journal, folder = self.last_drill
        if journal is None:
            return f"no drill journal to {self._need_standby().name} under {folder}"
        return f"drill journal of {journal.get('start')} under {folder}"

    @fact("The last drill to the standby: verdict, kind, target, date and age.")
    def last_drill_verdict(self) -> tuple[str, str]:
        journal, _ = self.last_drill
        if journal is None:
            return "no drill on record", self._drill_source()
        ex = journal.get("exitplan") or {}
        verdict = ex.get("verdict") or {}
        word = "PASSED" if verdict.get("passed") is True else "FAILED"
        kind = ex.get("drill") or "exit-plan"
        when = parse_time(journal.get("start"))
        age = f", {(today() - when.date()).days} days ago" if when else ""
        day = when.date().isoformat() if when else "an unknown date"
        return (
            f"{word} ({kind} {ex.get('from')} -> {ex.get('to')} on the {ex.get('target')} "
            f"target, {day}{age}): {verdict.get('summary') or 'no summary'}",
            self._drill_source(),
        )

    @fact("The cutover the last drill to the standby measured.")
    def last_drill_cutover(self) -> tuple[str, str]:
        journal, _ = self.last_drill
        ex = (journal or {}).get("exitplan") or {}
        seconds = _finite(ex.get("rto_measured_s"))
        if seconds is None:  # a failover drill: achievable RTO from the kill
            seconds = _finite((ex.get("rto") or {}).get("achievable_rto_s"))
        if seconds is None:
            return "not measured", self._drill_source()
        return f"{format_secs(seconds)} (measured on the {ex.get('target')} target)", (
            self._drill_source()
        )

    # --- the inventory ------------------------------------------------------------------------

    @cached_property
    def inventory_row(self) -> tuple[Any, str]:
        """The service's inventory row (None when there is none) and where it was sought."""
        from runbooks.rehearsal.inventory import load_inventory

        path = self.where.inventory
        if path is None:
            return None, "no --inventory given"
        rows = load_inventory(path, self.project)
        row = next((r for r in rows if r.service == self.where.service), None)
        return row, f"{path}" + (
            f" row {row.row}" if row else f" (no row for {self.where.service})"
        )

    def _inventory(self, column: str) -> tuple[str, str]:
        row, source = self.inventory_row
        value = str(getattr(row, column)) if row is not None else ""
        return (
            value or f"not recorded ({column} {'blank' if row else 'unknown'})",
            f"{source}: {column}",
        )

    @fact("The contract's exit clause, from the inventory.")
    def exit_clause(self) -> tuple[str, str]:
        return self._inventory("exit_clause")

    @fact("Where and how the service's data is exported, from the inventory.")
    def data_export_path(self) -> tuple[str, str]:
        return self._inventory("data_export_path")

    @fact("Who owns the service, from the inventory.")
    def service_owner(self) -> tuple[str, str]:
        return self._inventory("owner")

    @fact("Who to call next, from the inventory.")
    def escalation(self) -> tuple[str, str]:
        return self._inventory("escalation")

    @fact("The RTO the business asks of the service, from the inventory.")
    def rto_target(self) -> tuple[str, str]:
        from runbooks.rehearsal.inventory import format_duration

        row, source = self.inventory_row
        if row is None:
            # it reads inside a sentence ("without breaking the RTO of ..."), review U10
            return "an unknown target (run with --inventory)", f"{source}: rto"
        return format_duration(row.rto_s), f"{source}: rto"


def _where(stack: Stack) -> str:
    return f"{stack.name} ({stack.spec.provider}, {stack.spec.region})"


def _finite(value: Any) -> float | None:
    try:
        number = float(value)
    except (TypeError, ValueError):
        return None
    return number if math.isfinite(number) else None
