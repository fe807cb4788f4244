"""Judging a rehearsal (HSEEP's After-Action Report): which expected actions the answers
covered, by whom and when; the time to decision per inject from the inject's time; the
strengths, the gaps and the Improvement Plan; the score, covered ÷ expected.

A gap is an expected action nobody covered, an inject left without a decision and an owner,
a decision later than the inject's `decide_within`, or a real drill the inject ran that failed
(its `Outcome`; a passing one is a strength). Each gap becomes a corrective action in
the Improvement Plan, owned by the role it concerns (its player, when named) and due
`DUE_DAYS` after today (`components.catalog.today()`), beside the action items agreed in the
room.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from dataclasses import dataclass, field

from components.catalog import today
from runbooks.rehearsal.tabletop import ExpectedAction, Inject, Scenario, duration_text, fill
from runbooks.rehearsal.tabletop_answers import ActionItem, Answers, InjectAnswers

DUE_DAYS = 30


@dataclass(frozen=True)
class Coverage:
    """An expected action and who covered it, at which time (exercise clock, seconds)."""

    action: ExpectedAction
    covered_by: tuple[tuple[str, int | None], ...]

    @property
    def covered(self) -> bool:
        """Whether any answer covered it."""
        return bool(self.covered_by)


@dataclass(frozen=True)
class Finding:
    """A strength or a gap, at an inject."""

    inject: str
    text: str
    role: str = ""
    corrective: str = ""  # a gap: the corrective action it calls for


@dataclass(frozen=True)
class Outcome:
    """What a real step an inject ran showed (a drill's verdict): a strength when it passed,
    else a gap for engineering with its corrective action."""

    passed: bool
    text: str
    corrective: str = ""


STEP_ROLE = "engineering"  # who owns a failed drill's corrective action


@dataclass(frozen=True)
class CorrectiveAction:
    """A line of the Improvement Plan."""

    inject: str
    action: str
    owner: str
    due: dt.date
    origin: str  # "agreed" (an action item) or "gap" (from a gap)


@dataclass
class InjectResult:
    """One inject judged."""

    inject: Inject
    given: InjectAnswers
    coverage: list[Coverage]
    time_to_decision_s: int | None
    within: bool | None  # against decide_within; None when it has none or no decision


@dataclass
class Judgement:
    """The whole rehearsal judged."""

    injects: list[InjectResult]
    strengths: list[Finding] = field(default_factory=list)
    gaps: list[Finding] = field(default_factory=list)
    plan: list[CorrectiveAction] = field(default_factory=list)

    @property
    def expected(self) -> int:
        """Expected actions in the scenario."""
        return sum(len(r.coverage) for r in self.injects)

    @property
    def covered(self) -> int:
        """Expected actions some answer covered."""
        return sum(c.covered for r in self.injects for c in r.coverage)

    @property
    def score(self) -> float:
        """Covered ÷ expected."""
        return self.covered / self.expected if self.expected else 0.0


def judge(
    scenario: Scenario,
    answers: Answers,
    values: dict[str, str],
    outcomes: Mapping[str, Outcome] | None = None,
) -> Judgement:
    """Judge the answers against the scenario's expected actions and decision times (`values`:
    the facts its texts name, filled into the findings), with what each inject's real step
    showed (`outcomes`, by inject id)."""
    due = today() + dt.timedelta(days=DUE_DAYS)
    result = Judgement([])
    for inject in scenario.injects:
        given = answers.of(inject.id)
        coverage = [
            Coverage(a, tuple((x.role, x.decided_at_s) for x in given.answers if a.id in x.covers))
            for a in inject.expected
        ]
        ttd = (
            None
            if given.decided_at_s is None or not given.decision
            else (given.decided_at_s - inject.time_s)
        )
        limit = inject.decide_within_s
        within = None if ttd is None or limit is None else ttd <= limit
        result.injects.append(InjectResult(inject, given, coverage, ttd, within))
        for c in coverage:
            action = fill(c.action.action, values)
            if c.covered:
                who = ", ".join(sorted({r for r, _ in c.covered_by}))
                result.strengths.append(Finding(inject.id, f"{action} ({who})", who))
            else:
                result.gaps.append(
                    Finding(
                        inject.id,
                        f"not covered: {action}",
                        c.action.role,
                        f"make it a runbook step and rehearse it: {action}",
                    )
                )
        if ttd is None:
            result.gaps.append(
                Finding(
                    inject.id,
                    f"no decision with an owner at {inject.title}",
                    "incident-commander",
                    f"agree beforehand who decides at {inject.title!r}, on which facts, by when",
                )
            )
        elif within is False:
            assert limit is not None
            result.gaps.append(
                Finding(
                    inject.id,
                    f"decided in {duration_text(ttd)} by {given.owner}, expected within "
                    f"{duration_text(limit)}",
                    "incident-commander",
                    f"pre-agree the trigger and the owner of the decision at {inject.title!r} "
                    f"so it takes under {duration_text(limit)}",
                )
            )
        elif within:
            result.strengths.append(
                Finding(
                    inject.id,
                    f"decided in {duration_text(ttd)} by {given.owner} (within "
                    f"{duration_text(limit or 0)})",
                    "incident-commander",
                )
            )
        outcome = (outcomes or {}).get(inject.id)
        if outcome is not None:
            found = result.strengths if outcome.passed else result.gaps
            found.append(Finding(inject.id, outcome.text, STEP_ROLE, outcome.corrective))
        result.plan += [_agreed(inject.id, item) for item in given.action_items]
    result.plan += [_corrective(g, answers, due) for g in result.gaps]
    return result


def _agreed(inject: str, item: ActionItem) -> CorrectiveAction:
    return CorrectiveAction(inject, item.action, item.owner, item.due, "agreed")


def _corrective(gap: Finding, answers: Answers, due: dt.date) -> CorrectiveAction:
    who = answers.participants.get(gap.role) or gap.role or "incident-commander"
    owner = f"{who} ({gap.role})" if gap.role and who != gap.role else who
    return CorrectiveAction(gap.inject, gap.corrective, owner, due, "gap")
