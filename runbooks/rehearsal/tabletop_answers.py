"""Answers files: what the players said at each inject, read and checked against the scenario,
and the empty one `exitplan tabletop template` prints for a facilitator to fill in.

    scenario: vendor-distress
    participants: {incident-commander: "A. Ng", legal: "R. Diaz"}   # who played each role
    injects:
      - id: vendor-warning
        time: T+0                      # time, title, situation, expected: not read back
        answers:
          - role: legal
            prompt: ...                # the question, for the reader (not read back)
            answer: "Clause 14.2 lets us terminate on insolvency..."
            covers: [review-exit-clause]   # expected-action ids this answer covers
            decided_at: T+6m
        decision: "Start the due diligence; exit at the first missed payment"
        owner: incident-commander
        decided_at: T+12m
        action_items:
          - {action: "...", owner: finance, due: 2026-12-14}

An answer that covers an action needs its `decided_at`; a decision needs an owner and its
`decided_at`; an action item needs an owner and a due date (ISO). Any other mistake (an inject,
role or action id the scenario does not have, a time before the inject's) is an `InputError`
naming the answers file and the field (exit 2).
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from components.errors import InputError
from runbooks.rehearsal.tabletop import (
    Inject,
    Scenario,
    check_keys,
    check_role,
    clock,
    parse_clock,
    read_yaml,
)

# time, title, situation and expected are written by the template for the reader, not read
# back.
INJECT_KEYS = {
    "id",
    "time",
    "title",
    "situation",
    "expected",
    "answers",
    "decision",
    "owner",
    "decided_at",
    "action_items",
}
ANSWER_KEYS = {"role", "prompt", "answer", "covers", "decided_at"}
ITEM_KEYS = {"action", "owner", "due"}


@dataclass(frozen=True)
class Answer:
    """One role's answer to an inject's question."""

    role: str
    text: str
    covers: tuple[str, ...] = ()
    decided_at_s: int | None = None


@dataclass(frozen=True)
class ActionItem:
    """A corrective action agreed in the room: what, who, by when."""

    action: str
    owner: str
    due: dt.date


@dataclass
class InjectAnswers:
    """Everything said and decided at one inject."""

    answers: list[Answer] = field(default_factory=list)
    decision: str = ""
    owner: str = ""
    decided_at_s: int | None = None
    action_items: list[ActionItem] = field(default_factory=list)


@dataclass
class Answers:
    """A rehearsal's answers: who played which role and each inject's answers (by inject id)."""

    source: str
    participants: dict[str, str] = field(default_factory=dict)
    injects: dict[str, InjectAnswers] = field(default_factory=dict)

    def of(self, inject_id: str) -> InjectAnswers:
        """The inject's answers (empty when nobody answered)."""
        return self.injects.get(inject_id) or InjectAnswers()


def template(scenario: Scenario, facts: dict[str, str]) -> str:
    """The answers file of the scenario with every prompt (facts filled) and empty answers."""
    from runbooks.rehearsal.tabletop import fill

    data = {
        "scenario": scenario.name,
        "participants": dict.fromkeys(scenario.roles, ""),
        "injects": [
            {
                "id": inject.id,
                "time": inject.clock,
                "title": inject.title,
                "situation": fill(inject.situation, facts),
                "expected": {a.id: f"{a.role}: {fill(a.action, facts)}" for a in inject.expected},
                "answers": [
                    {
                        "role": role,
                        "prompt": fill(question, facts),
                        "answer": "",
                        "covers": [],
                        "decided_at": "",
                    }
                    for role, question in inject.questions.items()
                ],
                "decision": "",
                "owner": "",
                "decided_at": "",
                "action_items": [],
            }
            for inject in scenario.injects
        ],
    }
    head = (
        f"# Answers for {scenario.title} ({scenario.path.name}).\n"
        "# Per answer: what was said, `covers` (the expected-action ids it covers) and\n"
        "# `decided_at` (T+... on the exercise clock). Per inject: the decision, its owner and\n"
        "# when it was made; action items as {action, owner, due: YYYY-MM-DD}.\n"
    )
    return head + yaml.safe_dump(data, sort_keys=False, allow_unicode=True, width=100)


def dump(scenario: Scenario, answers: Answers) -> str:
    """Answers as an answers file (what an interactive session writes, to replay it)."""
    injects = []
    for inject in scenario.injects:
        given = answers.of(inject.id)
        injects.append(
            {
                "id": inject.id,
                "time": inject.clock,
                "answers": [
                    {
                        "role": a.role,
                        "answer": a.text,
                        "covers": list(a.covers),
                        "decided_at": _clock(a.decided_at_s),
                    }
                    for a in given.answers
                ],
                "decision": given.decision,
                "owner": given.owner,
                "decided_at": _clock(given.decided_at_s),
                "action_items": [
                    {"action": i.action, "owner": i.owner, "due": i.due.isoformat()}
                    for i in given.action_items
                ],
            }
        )
    data = {"scenario": scenario.name, "participants": answers.participants, "injects": injects}
    return yaml.safe_dump(data, sort_keys=False, allow_unicode=True, width=100)


def _clock(seconds: int | None) -> str:
    return "" if seconds is None else clock(seconds)


def load_answers(path: Path, scenario: Scenario) -> Answers:
    """The answers file at `path`, checked against the scenario (module docstring)."""
    return answers_from(read_yaml(path, "answers file"), scenario, str(path))


def answers_from(data: dict[str, Any], scenario: Scenario, file: str) -> Answers:
    """Answers from an answers file's content (`file` names it in errors), checked against
    the scenario."""
    check_keys(data, {"scenario", "participants", "injects"}, file, "")
    if data.get("scenario") != scenario.name:
        raise InputError(
            f"answers for scenario {data.get('scenario')!r}, not {scenario.name!r}",
            file=file,
            field="scenario",
            fix=f"pass the answers of {scenario.name} (exitplan tabletop template "
            f"{scenario.path} > answers.yaml)",
        )
    people = data.get("participants") or {}
    if not isinstance(people, dict):
        raise InputError(
            "participants is a mapping", file=file, field="participants", fix="role: name"
        )
    answers = Answers(
        file,
        {
            check_role(r, file, f"participants.{r}", scenario.roles): str(n or "")
            for r, n in people.items()
        },
    )
    items = data.get("injects") or []
    if not isinstance(items, list):
        raise InputError(
            "injects is a list", file=file, field="injects", fix="one entry per inject, with its id"
        )
    for n, item in enumerate(items):
        named = item.get("id") if isinstance(item, dict) else item
        inject = scenario.inject(str(named)) if isinstance(item, dict) else None
        if inject is None:
            raise InputError(
                f"no inject {named!r} in the scenario",
                file=file,
                field=f"injects[{n}].id",
                fix=f"use one of: {', '.join(i.id for i in scenario.injects)}",
            )
        if inject.id in answers.injects:
            raise InputError(
                f"inject {inject.id!r} is answered twice",
                file=file,
                field=f"injects[{n}]",
                fix="merge its answers into one entry",
            )
        answers.injects[inject.id] = _inject_answers(item, inject, scenario, file, n)
    return answers


def _inject_answers(
    item: dict[str, Any], inject: Inject, scenario: Scenario, file: str, n: int
) -> InjectAnswers:
    where = f"injects[{n}] ({inject.id})."
    check_keys(item, INJECT_KEYS, file, where)
    given = InjectAnswers()
    for k, raw in enumerate(item.get("answers") or []):
        at = f"{where}answers[{k}]."
        if not isinstance(raw, dict):
            raise InputError(
                "an answer is a mapping",
                file=file,
                field=at[:-1],
                fix="{role, answer, covers, decided_at}",
            )
        check_keys(raw, ANSWER_KEYS, file, at)
        role = check_role(raw.get("role"), file, f"{at}role", scenario.roles)
        covers = raw.get("covers") or []
        if not isinstance(covers, list):
            raise InputError(
                "covers is a list of action ids",
                file=file,
                field=f"{at}covers",
                fix="covers: [ACTION_ID, ...]",
            )
        ids = [a.id for a in inject.expected]
        for action in covers:
            if action not in ids:
                raise InputError(
                    f"inject {inject.id} expects no action {action!r}",
                    file=file,
                    field=f"{at}covers",
                    fix=f"use: {', '.join(ids)}",
                )
        when = _when(raw.get("decided_at"), inject, file, f"{at}decided_at")
        if covers and when is None:
            raise InputError(
                "an answer that covers actions needs its time",
                file=file,
                field=f"{at}decided_at",
                fix="decided_at: T+... (exercise clock)",
            )
        given.answers.append(
            Answer(role, str(raw.get("answer") or "").strip(), tuple(str(c) for c in covers), when)
        )
    given.decision = str(item.get("decision") or "").strip()
    given.owner = str(item.get("owner") or "").strip()
    given.decided_at_s = _when(item.get("decided_at"), inject, file, f"{where}decided_at")
    if given.decision and (not given.owner or given.decided_at_s is None):
        missing = "owner" if not given.owner else "decided_at"
        raise InputError(
            "a decision needs an owner and its time",
            file=file,
            field=f"{where}{missing}",
            fix="owner: a role or a name; decided_at: T+...",
        )
    for k, raw in enumerate(item.get("action_items") or []):
        given.action_items.append(_item(raw, file, f"{where}action_items[{k}]"))
    return given


def _when(value: Any, inject: Inject, file: str, field: str) -> int | None:
    if value is None or str(value).strip() == "":
        return None
    seconds = parse_clock(value, file, field)
    if seconds < inject.time_s:
        raise InputError(
            f"{value} is before the inject ({inject.clock})",
            file=file,
            field=field,
            fix=f"a time from {inject.clock} on: the clock runs from the scenario's T+0",
        )
    return seconds


def _item(raw: Any, file: str, field: str) -> ActionItem:
    fix = "{action: WHAT, owner: WHO, due: YYYY-MM-DD}"
    if not isinstance(raw, dict):
        raise InputError("an action item is a mapping", file=file, field=field, fix=fix)
    check_keys(raw, ITEM_KEYS, file, f"{field}.")
    for key in ("action", "owner"):
        if not str(raw.get(key) or "").strip():
            raise InputError(
                f"the action item has no {key}", file=file, field=f"{field}.{key}", fix=fix
            )
    due = raw.get("due")
    try:
        day = due if isinstance(due, dt.date) else dt.date.fromisoformat(str(due))
    except ValueError:
        raise InputError(
            f"due {due!r} is not a date", file=file, field=f"{field}.due", fix="due: YYYY-MM-DD"
        ) from None
    return ActionItem(str(raw["action"]).strip(), str(raw["owner"]).strip(), day)
