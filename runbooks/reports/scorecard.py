"""The vendor scorecard: per provider and stack, what the drill and chaos journals on disk
measured (p50/p99, error rate, wrong answers, drill pass rate, last measured cutover), what the
catalog says (achievable RTO, cost per 1M inferences when measurements are given) and the
policy violations of its plan; a weighted score per stack and a ranking.

Journals are read defensively (fields are added by other runs over time): a missing field is
a missing figure, never an error. A figure measured on the sandbox says so (`sandbox`).

Scoring: each metric is scaled to 0..1 across the stacks that have it (1 = best: lowest
latency, errors, RTO, cost and violations, highest pass rate; 1 for all when they tie); a
stack's score is the weighted sum of its scaled metrics over the total weight, a metric it
lacks counting 0 (no evidence, no credit), and `coverage` is the share of the total weight
its measured metrics carry. Weights (`--weights FILE`, YAML `metric: number`) default to
`DEFAULT_WEIGHTS`.
"""

from __future__ import annotations

import json
import math
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import yaml

from components.errors import InputError

# metric -> (default weight, higher is better)
METRICS: dict[str, tuple[float, bool]] = {
    "p50_ms": (0.05, False),
    "p99_ms": (0.15, False),
    "error_rate": (0.20, False),
    "wrong_answers": (0.15, False),
    "drill_pass_rate": (0.15, True),
    "last_cutover_s": (0.05, False),
    "achievable_rto_s": (0.10, False),
    "usd_per_million": (0.10, False),
    "policy_violations": (0.05, False),
}
DEFAULT_WEIGHTS = {name: weight for name, (weight, _) in METRICS.items()}
SERVED_ALONE = 0.99  # a phase counts for a stack when it served at least this share
# A drill that ended so is no verdict on its standby: an operator's Ctrl-C, or a run killed
# before it finished (review B7: they counted as failed drills).
NO_VERDICT = ("interrupted", "running")


@dataclass
class StackCard:
    """One stack's figures, score and rank."""

    stack: str
    provider: str
    metrics: dict[str, float | None] = field(default_factory=dict)
    measured_on: list[str] = field(default_factory=list)  # targets of the journals: sandbox, live
    drills: int = 0
    chaos_runs: int = 0
    chaos_passed: int = 0
    last_drill: str | None = None
    score: float | None = None
    coverage: float = 0.0
    rank: int | None = None

    def as_dict(self) -> dict[str, Any]:
        """Plain data for `--json`."""
        return asdict(self)


def read_weights(path: Path | None) -> dict[str, float]:
    """The default weights, overridden by a YAML file of `metric: number`; an unknown metric or
    a value that is not a non-negative number is an `InputError` naming it (exit 2)."""
    if path is None:
        return dict(DEFAULT_WEIGHTS)
    try:
        data = yaml.safe_load(path.read_text())
    except (OSError, yaml.YAMLError) as exc:
        raise InputError(f"cannot read weights: {exc}", file=str(path), field="--weights",
                         fix="a YAML mapping of metric: number") from None  # fmt: skip
    if not isinstance(data, dict):
        raise InputError("weights must be a mapping of metric: number", file=str(path),
                         field="--weights", fix=f"metrics: {', '.join(METRICS)}")  # fmt: skip
    weights = dict(DEFAULT_WEIGHTS)
    for name, value in data.items():
        if name not in METRICS:
            raise InputError(f"unknown metric {name!r}", file=str(path), field=str(name),
                             fix=f"use one of: {', '.join(METRICS)}")  # fmt: skip
        number = value if isinstance(value, int | float) and not isinstance(value, bool) else None
        if number is None or not math.isfinite(number) or number < 0:
            raise InputError(
                f"weight {value!r} is not a non-negative number",
                file=str(path),
                field=str(name),
                fix=f"give {name} a number, e.g. {name}: 0.2",
            )
        weights[name] = float(number)
    if sum(weights.values()) <= 0:
        raise InputError("every weight is 0", file=str(path), field="--weights",
                         fix="give at least one metric a positive weight")  # fmt: skip
    return weights


def load_journals(root: Path) -> list[tuple[str, dict[str, Any]]]:
    """(kind, journal) of every `drills/*/journal.json` and `chaos/*/journal.json` under
    `root` (a project's `.exitplan`); unreadable files are skipped."""
    found = []
    for kind in ("drills", "chaos"):
        for path in sorted(root.glob(f"{kind}/*/journal.json")):
            try:
                data = json.loads(path.read_text())
            except (OSError, ValueError):
                continue
            if isinstance(data, dict):
                found.append((kind, data))
    return found


def _number(value: Any) -> float | None:
    try:
        number = float(value)
    except (TypeError, ValueError):
        return None
    return number if math.isfinite(number) else None


def _share(phase: dict[str, Any], stack: str) -> float:
    return _number((phase.get("share") or {}).get(stack)) or 0.0


def _add_drill(cards: dict[str, StackCard], journal: dict[str, Any], sums: dict[str, Any]) -> None:
    ex = journal.get("exitplan") or {}
    target = str(ex.get("target") or "unknown")
    for stack in (ex.get("from"), ex.get("to")):
        card = cards.get(str(stack))
        if card is None:
            continue
        alone = [p for p in ex.get("phases") or [] if isinstance(p, dict)
                 and _share(p, card.stack) >= SERVED_ALONE and _number(p.get("sent"))]  # fmt: skip
        acc = sums.setdefault(card.stack, {"sent": 0.0, "failed": 0.0, "p50": [], "p99": []})
        for p in alone:
            sent = _number(p.get("sent")) or 0.0
            acc["sent"] += sent
            acc["failed"] += _number(p.get("failed")) or 0.0
            if _number(p.get("p50_ms")) is not None:
                acc["p50"].append((sent, _number(p.get("p50_ms"))))
            if _number(p.get("p99_ms")) is not None:
                acc["p99"].append(_number(p.get("p99_ms")))
        if alone and target not in card.measured_on:
            card.measured_on.append(target)
    dest = cards.get(str(ex.get("to")))
    if dest is None or journal.get("status") in NO_VERDICT:
        return
    dest.drills += 1
    verdict = ex.get("verdict") or {}
    passed = sums.setdefault(dest.stack, {"sent": 0.0, "failed": 0.0, "p50": [], "p99": []})
    passed["passes"] = passed.get("passes", 0) + (1 if verdict.get("passed") is True else 0)
    wrong = _number((ex.get("load") or {}).get("wrong_answers"))
    if wrong is not None:
        passed["wrong"] = passed.get("wrong", 0.0) + wrong
    start = str(journal.get("start") or "")
    if dest.last_drill is None or start > dest.last_drill:
        dest.last_drill = start
        dest.metrics["last_cutover_s"] = _number(ex.get("rto_measured_s"))


def _add_chaos(cards: dict[str, StackCard], journal: dict[str, Any]) -> None:
    ex = journal.get("exitplan") or {}
    before = ex.get("before") or {}
    ok = journal.get("status") == "completed" and journal.get("deviated") is False
    for stack in before.get("weights") or {}:
        card = cards.get(str(stack))
        if card is not None:
            card.chaos_runs += 1
            card.chaos_passed += int(ok)
            target = str(ex.get("target") or before.get("target") or "unknown")
            if target not in card.measured_on:
                card.measured_on.append(target)


def measure(cards: dict[str, StackCard], journals: list[tuple[str, dict[str, Any]]]) -> None:
    """Fill each card's journal figures: p50 (sent-weighted) and p99 (worst) over the phases it
    served alone, error rate over those phases, wrong answers of the drills that cut over to
    it, drill pass rate as a destination (of the drills that reached a verdict: not an
    interrupted or unfinished one), the last measured cutover; chaos runs it was part of."""
    sums: dict[str, Any] = {}
    for kind, journal in journals:
        if kind == "drills":
            _add_drill(cards, journal, sums)
        else:
            _add_chaos(cards, journal)
    for stack, acc in sums.items():
        card = cards[stack]
        weight = sum(s for s, _ in acc["p50"])
        if weight:
            card.metrics["p50_ms"] = sum(s * v for s, v in acc["p50"]) / weight
        card.metrics["p99_ms"] = max(acc["p99"]) if acc["p99"] else None
        card.metrics["error_rate"] = acc["failed"] / acc["sent"] if acc["sent"] else None
        card.metrics["wrong_answers"] = acc.get("wrong")
        if card.drills:
            card.metrics["drill_pass_rate"] = acc.get("passes", 0) / card.drills


def score(cards: list[StackCard], weights: dict[str, float]) -> None:
    """Scale each metric across the cards, then score, cover and rank them (module docstring);
    a card with no measured metric has no score and no rank."""
    total = sum(weights.values())
    scaled: dict[str, dict[str, float]] = {c.stack: {} for c in cards}
    for name, (_, higher) in METRICS.items():
        values = {c.stack: v for c in cards if (v := c.metrics.get(name)) is not None}
        if not values:
            continue
        lo, hi = min(values.values()), max(values.values())
        for stack, v in values.items():
            good = 1.0 if hi == lo else (v - lo) / (hi - lo)
            scaled[stack][name] = good if higher else (1.0 if hi == lo else 1 - good)
    for card in cards:
        have = {n: s for n, s in scaled[card.stack].items() if weights.get(n, 0) > 0}
        card.coverage = sum(weights[n] for n in have) / total
        card.score = sum(weights[n] * s for n, s in have.items()) / total if have else None
    ranked = sorted((c for c in cards if c.score is not None), key=lambda c: -(c.score or 0))
    for i, card in enumerate(ranked, 1):
        card.rank = i


def providers(cards: list[StackCard]) -> list[dict[str, Any]]:
    """Per provider: its stacks and the mean of their scores weighted by each one's coverage,
    best first: a stack with little evidence (an edge stack never drilled) weighs little, not
    as much as a drilled one (review U7: aws 0.17 was aws-primary averaged with aws-wavelength's
    0.05, a score of no evidence)."""
    out = []
    for name in sorted({c.provider for c in cards}):
        scored = [c for c in cards if c.provider == name and c.score is not None]
        covered = sum(c.coverage for c in scored)
        out.append({"provider": name, "stacks": [c.stack for c in cards if c.provider == name],
                    "score": sum((c.score or 0) * c.coverage for c in scored) / covered
                    if covered else None})  # fmt: skip
    return sorted(out, key=lambda p: -(p["score"] if p["score"] is not None else -1))
