"""The utilisation profile: how many inference nodes run in each hour of the day.

A profile file is YAML (or JSON) with two keys:

    unit: fraction        # or: nodes
    hours: [0, 0, 0, 0, 0, 0, 0.25, 0.5, 1, 1, 1, 1, 1, 1, 1, 1, 1, 0.5, 0.25, 0, 0, 0, 0, 0]

`hours` holds 24 values, hour 0 to 23 of every day (UTC). With `unit: fraction` each value is
the share of the autoscaling range in use: 0 is the node pool's minimum, 1 its maximum, so
every pool follows the same shape whatever its size. With `unit: nodes` each value is a node
count, held inside each pool's [min, max] (a count outside it is clamped, with a warning).
Values may be fractional: 1.5 nodes is one node all hour and another half of it. The profile
applies to inference node pools (GPU, or CPU at a GPU-less edge); system pools and every
other resource run around the clock. The default is the minimum around the clock.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

import yaml

from components.errors import InputError

HOURS_PER_MONTH = 730  # the month the clouds' calculators use: 8,760 hours / 12
HOURS = 24
Unit = Literal["fraction", "nodes"]


@dataclass(frozen=True)
class Profile:
    """Per hour of the day, the inference node count as `unit` says; None: the minimum."""

    unit: Unit = "fraction"
    hours: tuple[float, ...] = (0.0,) * HOURS
    origin: str = "default: the minimum node count around the clock"

    def counts(self, low: int, high: int) -> list[float]:
        """The node count in each hour for a pool that scales from `low` to `high`."""
        if self.unit == "fraction":
            return [low + share * (high - low) for share in self.hours]
        return [min(max(value, low), high) for value in self.hours]

    def clamped(self, low: int, high: int) -> list[int]:
        """The hours whose node count lies outside [low, high] (unit `nodes` only)."""
        if self.unit == "fraction":
            return []
        return [h for h, value in enumerate(self.hours) if not low <= value <= high]

    def node_hours(self, low: int, high: int) -> float:
        """Node-hours in a month of `HOURS_PER_MONTH` hours for a pool from `low` to `high`."""
        return sum(self.counts(low, high)) * HOURS_PER_MONTH / HOURS

    def peak(self, low: int, high: int) -> int:
        """The most nodes that run at once (what a commitment must cover)."""
        return math.ceil(max(self.counts(low, high)) - 1e-9)


def load_profile(path: Path) -> Profile:
    """Read and check a profile file; an `InputError` names the file, the field and the fix."""
    shown = str(path)
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
    except (OSError, yaml.YAMLError) as exc:
        raise InputError(
            f"cannot read the profile ({exc})",
            file=shown,
            field="--utilisation",
            fix="give a YAML file with `unit: fraction|nodes` and `hours:` (24 numbers)",
        ) from None
    if not isinstance(data, dict):
        raise InputError("expected a mapping with unit and hours", file=shown, fix=_FORMAT)
    unit = data.get("unit", "fraction")
    if unit not in ("fraction", "nodes"):
        raise InputError(
            f"unit {unit!r} is not fraction or nodes", file=shown, field="unit", fix=_FORMAT
        )
    hours = data.get("hours")
    if not isinstance(hours, list) or len(hours) != HOURS:
        count = len(hours) if isinstance(hours, list) else "no list"
        raise InputError(
            f"hours needs {HOURS} values, got {count}", file=shown, field="hours", fix=_FORMAT
        )
    values: list[float] = []
    for hour, value in enumerate(hours):
        ceiling = 1.0 if unit == "fraction" else math.inf
        if isinstance(value, bool) or not isinstance(value, int | float):
            raise InputError(
                f"{value!r} is not a number", file=shown, field=f"hours[{hour}]", fix=_FORMAT
            )
        if not 0 <= value <= ceiling:
            allowed = "between 0 and 1" if unit == "fraction" else "0 or more"
            raise InputError(
                f"{value} is not {allowed}", file=shown, field=f"hours[{hour}]", fix=_FORMAT
            )
        values.append(float(value))
    return Profile(unit, tuple(values), origin=shown)


_FORMAT = (
    "unit: fraction (0 = the pool's minimum, 1 = its maximum) or nodes (a count), and hours: "
    "24 values for hour 0..23 (UTC); see components/cost/profile.py"
)
