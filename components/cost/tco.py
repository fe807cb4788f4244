"""The cost of leaving: staying on a stack for N months against moving to another.

Leaving runs both stacks for the dual-run months, then the target alone, and pays once, in
the first month, the source cloud's internet egress for the models (every version the store
keeps) and any other data moved. The target is priced as it would serve alone: a standby at
`hot` (the primary's capacity). The break-even month is the first month whose cumulative
cost of leaving is at or below that of staying. A what-if (`aws:+40%`) scales every line a
cloud bills, in both scenarios, to show which exit a price rise makes cheaper.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from itertools import accumulate
from typing import Any

from components.catalog.pricing import clouds
from components.cost.lines import StackCost
from components.errors import InputError

WHAT_IF = re.compile(r"^(?P<cloud>[a-z]+):(?P<pct>[+-]\d+(?:\.\d+)?)%$")


@dataclass(frozen=True)
class WhatIf:
    """A price change of `pct` percent on everything one cloud bills."""

    cloud: str
    pct: float

    @property
    def factor(self) -> float:
        """What prices are multiplied by."""
        return 1 + self.pct / 100

    def __str__(self) -> str:
        return f"{self.cloud}:{self.pct:+g}%"


def parse_what_if(text: str) -> WhatIf:
    """`aws:+40%` -> WhatIf("aws", 40); an `InputError` on `--what-if` names the valid form
    and clouds."""
    match = WHAT_IF.match(text.strip())
    fix = f"write CLOUD:+PCT% or CLOUD:-PCT% (e.g. aws:+40%), CLOUD one of: {', '.join(clouds())}"
    if not match:
        raise InputError(f"malformed what-if {text!r}", field="--what-if", fix=fix)
    if match["cloud"] not in clouds():
        raise InputError(f"unknown cloud {match['cloud']!r}", field="--what-if", fix=fix)
    pct = float(match["pct"])
    if pct <= -100:
        raise InputError(f"a price cannot fall by {-pct:g}%", field="--what-if", fix=fix)
    return WhatIf(match["cloud"], pct)


def check_months(months: int, dual_run_months: int) -> None:
    """Refuse a horizon that is not positive or a dual run outside it (`InputError`)."""
    if months < 1:
        raise InputError(
            f"--months must be 1 or more, got {months}",
            field="--months",
            fix="give the horizon in whole months, e.g. --months 24",
        )
    if not 0 <= dual_run_months <= months:
        raise InputError(
            f"--dual-run-months must be between 0 and --months ({months}), got {dual_run_months}",
            field="--dual-run-months",
            fix="give how many months both stacks run side by side",
        )


@dataclass(frozen=True)
class Exit:
    """Staying on `source` against leaving for `target` over `months` months."""

    source: str
    target: str
    months: int
    dual_run_months: int
    stay_monthly: float
    target_monthly: float
    move_gb: float
    move_usd: float
    stay: tuple[float, ...]  # cumulative $ at the end of each month
    leave: tuple[float, ...]

    @property
    def break_even_month(self) -> int | None:
        """The first month leaving has cost no more than staying, in total; None within the
        horizon."""
        for month, (stay, leave) in enumerate(zip(self.stay, self.leave, strict=True), 1):
            if leave <= stay + 1e-9:
                return month
        return None

    @property
    def savings(self) -> float:
        """$ saved by leaving over the horizon (negative: leaving costs more)."""
        return self.stay[-1] - self.leave[-1]

    def as_dict(self) -> dict[str, Any]:
        """The exit for `--json`."""
        return {
            "from": self.source,
            "to": self.target,
            "months": self.months,
            "dual_run_months": self.dual_run_months,
            "stay_monthly_usd": round(self.stay_monthly, 2),
            "target_monthly_usd": round(self.target_monthly, 2),
            "move_gb": round(self.move_gb, 3),
            "move_usd": round(self.move_usd, 2),
            "stay_total_usd": round(self.stay[-1], 2),
            "leave_total_usd": round(self.leave[-1], 2),
            "savings_usd": round(self.savings, 2),
            "break_even_month": self.break_even_month,
            "cumulative_stay_usd": [round(v, 2) for v in self.stay],
            "cumulative_leave_usd": [round(v, 2) for v in self.leave],
        }


def exit_cost(
    source: StackCost,
    target: StackCost,
    months: int,
    dual_run_months: int,
    move_gb: float,
    egress_usd_per_gb: float,
) -> Exit:
    """Month by month, the cumulative cost of staying on `source` and of leaving for `target`
    (see the module docstring)."""
    check_months(months, dual_run_months)
    move_usd = move_gb * egress_usd_per_gb
    stay = [source.monthly] * months
    leave = [
        (source.monthly if month <= dual_run_months else 0.0)
        + target.monthly
        + (move_usd if month == 1 else 0.0)
        for month in range(1, months + 1)
    ]
    return Exit(
        source.stack,
        target.stack,
        months,
        dual_run_months,
        source.monthly,
        target.monthly,
        move_gb,
        move_usd,
        tuple(accumulate(stay)),
        tuple(accumulate(leave)),
    )
