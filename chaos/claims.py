"""An experiment's claims as tolerances Chaos Toolkit's own run can fail on.

Chaos Toolkit judges tolerances only in the steady-state hypothesis; a probe in the method is
run and recorded, never judged. exitplan's control (`chaos/control.py`) judges every method
activity that states a `tolerance` (any kind Chaos Toolkit knows: a value, `range`, `regex`,
`probe`), right after it ran, with chaoslib's own `within_tolerance`: the run gets
`tolerance_met`, the journal's `exitplan.claims` a row. An activity that raised has not shown
its claim: not met. After the run, a claim not met marks the run `deviated`, so `chaos run`
and `exitplan chaos run` both exit 1."""

from __future__ import annotations

from typing import Any

from chaoslib import substitute
from chaoslib.exceptions import ChaosException
from chaoslib.hypothesis import ensure_hypothesis_tolerance_is_valid, within_tolerance
from chaoslib.types import Configuration, Experiment, Journal, Run, Secrets

__all__ = ["check_claims", "judge", "mark_deviated", "missed"]


def _tolerance(activity: dict[str, Any], configuration: Configuration, secrets: Secrets) -> Any:
    """The activity's tolerance with `${...}` substituted (a range bound may be a variable)."""
    tolerance = activity.get("tolerance")
    if isinstance(tolerance, dict | list | str):
        return substitute(tolerance, configuration or {}, secrets or {})
    return tolerance


def check_claims(experiment: Experiment, configuration: Configuration = None) -> None:
    """Refuse (ChaosException, naming the activity) a method tolerance Chaos Toolkit cannot
    evaluate; its own validation checks only the hypothesis's."""
    for activity in experiment.get("method") or []:
        if "tolerance" in activity:
            try:
                ensure_hypothesis_tolerance_is_valid(_tolerance(activity, configuration, None))
            except ChaosException as exc:
                raise ChaosException(f"method activity {activity.get('name')!r}: {exc}") from exc


def _error(run: Run) -> str:
    lines = [str(line).strip() for line in run.get("exception") or [] if str(line).strip()]
    return lines[-1] if lines else "failed"


def judge(run: Run, configuration: Configuration = None, secrets: Secrets = None) -> dict | None:
    """The claim of a method activity that states a tolerance, judged on its output (sets the
    run's `tolerance_met`); None when it states none."""
    activity = run.get("activity") or {}
    if "tolerance" not in activity:
        return None
    tolerance = _tolerance(activity, configuration, secrets)
    why = None
    if run.get("status") != "succeeded":
        met, why = False, f"it raised: {_error(run)}"
    else:
        try:
            met = bool(within_tolerance(tolerance, run.get("output"), configuration, secrets))
        except Exception as exc:  # an output the tolerance cannot compare (None in a range)
            met, why = False, f"not comparable with the tolerance: {exc}"
    run["tolerance_met"] = met
    claim = {"name": activity.get("name"), "tolerance": tolerance, "output": run.get("output")}
    return {**claim, "met": met, **({"why": why} if why else {})}


def missed(journal: Journal) -> list[dict[str, Any]]:
    """The journal's claims that were not met."""
    claims = (journal.get("exitplan") or {}).get("claims") or []
    return [claim for claim in claims if not claim.get("met")]


def mark_deviated(journal: Journal) -> None:
    """A run whose claims were not all met has deviated (Chaos Toolkit: a weakness found)."""
    if missed(journal):
        journal["deviated"] = True
