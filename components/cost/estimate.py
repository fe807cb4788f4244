"""A stack's monthly cost from its plan, and each standby's levels side by side with the RTO
each achieves (every level planned for real, so the trade-off prices what `pulumi up` of that
level would create)."""

from __future__ import annotations

import copy
from dataclasses import dataclass
from typing import Any, get_args

from components.cost.lines import StackCost
from components.cost.profile import Profile
from components.cost.resources import Context, price_resources
from components.planning.cache import cached_plan
from components.planning.runner import Plan
from components.spec import STANDBY_KEY, StandbyLevel
from components.stack_config import Project, Stack

LEVELS: tuple[str, ...] = get_args(StandbyLevel)


def estimate(stack: Stack, plan: Plan, profile: Profile) -> StackCost:
    """Price every planned resource of the stack at the profile."""
    lines, unpriced = price_resources(Context.of_stack(stack, plan, profile))
    level = stack.standby.level if stack.standby else None
    notes = [f"utilisation: {profile.origin}"]
    return StackCost(
        stack.name,
        str(stack.spec.provider),
        stack.kind,
        level,
        tuple(lines),
        tuple(unpriced),
        tuple(notes),
    )


def estimate_stacks(project: Project, names: list[str], profile: Profile) -> list[StackCost]:
    """The estimates of the named stacks, each validated first and planned (or read from the
    plan cache) once."""
    stacks = [project.stack(name) for name in names]
    for stack in stacks:
        stack.validate()  # report every bad stack before planning any
    planned: dict[str, Plan] = {}
    return [estimate(s, cached_plan(project, s, planned), profile) for s in stacks]


def estimate_variant(project: Project, stack: Stack, profile: Profile) -> StackCost:
    """The estimate of a stack built in memory (a standby at another level), validated and
    planned on its own (or read from the plan cache under its own key)."""
    stack.validate()
    return estimate(stack, cached_plan(project, stack, {}), profile)


@dataclass(frozen=True)
class LevelCost:
    """A standby at one level: its monthly cost and the RTO it achieves."""

    standby: str
    level: str
    monthly: float
    rto_s: int
    current: bool

    def as_dict(self) -> dict[str, Any]:
        """The row for `--json`."""
        return {
            "standby": self.standby,
            "level": self.level,
            "monthly_usd": round(self.monthly, 2),
            "rto_s": self.rto_s,
            "current": self.current,
        }


def at_level(stack: Stack, level: str) -> Stack:
    """The standby stack with its level set to `level` (same name, config otherwise as is)."""
    config = copy.deepcopy(stack.config)
    config[STANDBY_KEY]["level"] = level
    return Stack(stack.project, stack.name, stack.relative, config)


def standby_tradeoff(project: Project, stack: Stack, profile: Profile) -> list[LevelCost]:
    """Hot, warm and pilot-light for one standby stack: each level planned, priced at the
    profile, beside its RTO estimate."""
    assert stack.standby is not None
    rows = []
    for level in LEVELS:
        variant = stack if level == stack.standby.level else at_level(stack, level)
        cost = estimate_variant(project, variant, profile)
        assert variant.rto is not None
        rows.append(
            LevelCost(
                stack.name, level, cost.monthly, variant.rto.total_s, level == stack.standby.level
            )
        )
    return rows
