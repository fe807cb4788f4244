"""Tabletop scenarios: a master scenario events list (HSEEP's MSEL) of timed injects, read and
checked from YAML. The shape follows FEMA's Homeland Security Exercise and Evaluation Program
(https://www.fema.gov/emergency-managers/national-preparedness/exercises/hseep): MSEL templates
list, per inject, the expected outcome and the most minutes its discussion may take
(`decide_within` here); the After-Action Report ends in an Improvement Plan of corrective
actions with an owner and a completion date (`tabletop_judge`, `minutes`).

A scenario file:

    name: vendor-distress            # a slug; an answers file names it
    title: Our GPU vendor is failing
    summary: ...                     # optional: what the exercise rehearses
    service: fraud-scoring           # the service whose facts fill the texts
    stacks: {primary: aws-primary, standby: gcp-standby}   # optional (default: the router's)
    objectives: [...]                # optional
    roles: {incident-commander: "who plays it", engineering: ..., ...}
    injects:
      - id: vendor-warning
        time: T+0                    # the exercise clock: T+0, T+10m, T+1h30m, T+45s
        title: ...
        situation: text with {{ fact_name }} filled live from the project
        questions: {legal: ..., finance: ...}          # one per role asked
        expected_actions:
          - {id: review-exit-clause, role: legal, action: ...}
        decide_within: 15m           # optional: a decision later than this is a gap
        step: {drill: exit-plan, dry: true}            # optional: a real step, run in-process

A step runs `exitplan drill exit-plan` in-process from the scenario's primary to its standby
(or `from:`/`to:`). `dry: true` plans it (`--dry`); `dry: false` runs the drill itself on the
running sandbox, under load, its journal and report under the rehearsal's --out
(`tabletop_drill`); `rate:` (requests/s) and `hold:` (a duration per step, `2s`) size it, and a
real step may set `rto:` (a duration; default: the inventory's rto), `baseline_factor:` and
`max_lag_ms:` (the drill's gates, as `exitplan drill exit-plan` takes them).

Roles are the five of a migration war room (`ROLES`); an unknown role, an inject without a time
and a fact no one provides are `InputError`s naming the scenario file and the field (exit 2).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from components.errors import InputError

ROLES = ("incident-commander", "engineering", "legal", "finance", "scribe")
FACT = re.compile(r"\{\{\s*([^{}]*?)\s*\}\}")
CLOCK = re.compile(r"^T\+(?:0|(?=\d)(?:(\d+)h)?(?:(\d+)m)?(?:(\d+)s)?)$")
DURATION = re.compile(r"^(?=\d)(?:(\d+)h)?(?:(\d+)m)?(?:(\d+)s)?$")
STEP_DRILLS = ("exit-plan",)
SCENARIO_KEYS = {"name", "title", "summary", "service", "stacks", "objectives", "roles", "injects"}
INJECT_KEYS = {
    "id",
    "time",
    "title",
    "situation",
    "questions",
    "expected_actions",
    "decide_within",
    "step",
}
ACTION_KEYS = {"id", "role", "action"}


@dataclass(frozen=True)
class ExpectedAction:
    """What a role is expected to do at an inject (HSEEP: the expected player action)."""

    id: str
    role: str
    action: str


@dataclass(frozen=True)
class Step:
    """A real step an inject runs: `exitplan drill exit-plan` from --from to --to (None: the
    scenario's primary and standby), planned (`dry`) or run on the sandbox; None for an
    option: its default (the drill's for a dry step, `tabletop_drill`'s for a real one)."""

    drill: str
    source: str | None = None
    dest: str | None = None
    dry: bool = True
    rate: float | None = None
    hold_s: float | None = None
    rto_s: float | None = None
    baseline_factor: float | None = None
    max_lag_ms: float | None = None


@dataclass(frozen=True)
class Inject:
    """One timed event of the exercise."""

    id: str
    time_s: int
    title: str
    situation: str
    questions: dict[str, str]
    expected: tuple[ExpectedAction, ...]
    decide_within_s: int | None = None
    step: Step | None = None

    @property
    def clock(self) -> str:
        """The inject's time on the exercise clock (`T+10m`)."""
        return clock(self.time_s)


@dataclass(frozen=True)
class Scenario:
    """A checked scenario file."""

    path: Path
    name: str
    title: str
    summary: str
    service: str
    primary: str | None
    standby: str | None
    objectives: tuple[str, ...]
    roles: dict[str, str]
    injects: tuple[Inject, ...]

    def texts(self) -> list[tuple[str, str]]:
        """(field, text) of every text that may hold `{{ fact }}`s."""
        found = [("summary", self.summary)] + [
            (f"objectives[{i}]", o) for i, o in enumerate(self.objectives)
        ]
        for n, inject in enumerate(self.injects):
            where = f"injects[{n}] ({inject.id})"
            found.append((f"{where}.situation", inject.situation))
            found += [(f"{where}.questions.{r}", q) for r, q in inject.questions.items()]
            found += [(f"{where}.expected_actions.{a.id}", a.action) for a in inject.expected]
        return found

    def facts_used(self) -> list[str]:
        """Every fact named in the scenario's texts, in order of first use."""
        names: list[str] = []
        for _, text in self.texts():
            names += [n for n in FACT.findall(text) if n not in names]
        return names

    def check_facts(self, known: set[str]) -> None:
        """An `InputError` naming the field and the fact when a text names an unknown fact."""
        for where, text in self.texts():
            for name in FACT.findall(text):
                if name not in known:
                    raise InputError(
                        f"unknown fact {{{{ {name} }}}}",
                        file=str(self.path),
                        field=where,
                        fix=f"use one of: {', '.join(sorted(known))} (exitplan tabletop facts)",
                    )

    def inject(self, inject_id: str) -> Inject | None:
        """The inject with this id, or None."""
        return next((i for i in self.injects if i.id == inject_id), None)


def fill(text: str, values: dict[str, str]) -> str:
    """`text` with every `{{ fact }}` replaced by its value (facts are checked at load)."""
    return FACT.sub(lambda m: values[m.group(1)], text)


def clock(seconds: int) -> str:
    """Seconds as the exercise clock: T+0, T+45s, T+10m, T+1h30m, T+1m30s."""
    return "T+" + duration_text(seconds)


def duration_text(seconds: int) -> str:
    """Seconds as 0, 45s, 10m, 1h30m, 1m30s."""
    if seconds == 0:
        return "0"
    h, rest = divmod(seconds, 3600)
    m, s = divmod(rest, 60)
    return "".join(f"{v}{u}" for v, u in ((h, "h"), (m, "m"), (s, "s")) if v)


def parse_clock(value: Any, file: str, field: str) -> int:
    """A `T+…` time as seconds; an `InputError` naming the field otherwise."""
    match = CLOCK.match(str(value).strip()) if value is not None else None
    if match is None:
        raise InputError(
            f"time {value!r} is not on the exercise clock",
            file=file,
            field=field,
            fix="write T+ and a duration: T+0, T+10m, T+1h30m, T+45s",
        )
    return _seconds(match)


def parse_duration(value: Any, file: str, field: str) -> int:
    """A duration (`15m`, `1h`, `90s`) as seconds; an `InputError` naming the field otherwise."""
    match = DURATION.match(str(value).strip())
    if match is None or _seconds(match) == 0:
        raise InputError(
            f"{value!r} is not a duration",
            file=file,
            field=field,
            fix="write hours, minutes and seconds: 15m, 1h, 90s, 1h30m",
        )
    return _seconds(match)


def _seconds(match: re.Match[str]) -> int:
    h, m, s = (int(g) if g else 0 for g in match.groups())
    return h * 3600 + m * 60 + s


def article(noun: str) -> str:
    """`a` or `an` before `noun` (review U10: "a answers file")."""
    return "an" if noun[:1].lower() in "aeiou" else "a"


def read_yaml(path: Path, what: str) -> dict[str, Any]:
    """A YAML mapping from `path`; an `InputError` naming the file when it is not one."""
    try:
        data = yaml.safe_load(path.read_text())
    except OSError as exc:
        raise InputError(
            f"cannot read the {what}: {exc.strerror}",
            file=str(path),
            fix=f"pass the path of {article(what)} {what} (YAML)",
        ) from None
    except yaml.YAMLError as exc:
        raise InputError(
            f"not YAML: {exc}", file=str(path), fix=f"fix the {what}'s YAML syntax"
        ) from None
    if not isinstance(data, dict):
        raise InputError(
            f"{article(what)} {what} is a YAML mapping",
            file=str(path),
            fix="see examples/tabletop/ for the layout",
        )
    return data


def text_of(data: dict[str, Any], key: str, file: str, where: str, *, required: bool = True) -> str:
    """`data[key]` as a non-empty string (or "" when optional and absent)."""
    value = data.get(key)
    if value is None and not required:
        return ""
    if not isinstance(value, str | int | float) or (required and not str(value).strip()):
        raise InputError(
            f"{key} is missing or not text",
            file=file,
            field=f"{where}{key}",
            fix=f"give {key} a text",
        )
    return str(value).strip()


def check_keys(data: dict[str, Any], allowed: set[str], file: str, where: str) -> None:
    """An `InputError` naming the first key not in `allowed` (a typo would be silently lost)."""
    for key in data:
        if key not in allowed:
            raise InputError(
                f"unknown key {key!r}",
                file=file,
                field=f"{where}{key}",
                fix=f"use: {', '.join(sorted(allowed))}",
            )


def check_role(role: Any, file: str, field: str, roles: dict[str, str] | None = None) -> str:
    """A role of the war room (and of the scenario's `roles`, when given)."""
    allowed = list(roles) if roles is not None else list(ROLES)
    if role not in allowed:
        why = "not a role of the scenario" if roles is not None and role in ROLES else "unknown"
        raise InputError(
            f"{why} role {role!r}", file=file, field=field, fix=f"use one of: {', '.join(allowed)}"
        )
    return str(role)


def load_scenario(path: Path) -> Scenario:
    """The scenario file at `path`, checked (module docstring); facts are checked against
    the project's by `Scenario.check_facts`."""
    file = str(path)
    data = read_yaml(path, "scenario")
    check_keys(data, SCENARIO_KEYS, file, "")
    roles_in = data.get("roles")
    if not isinstance(roles_in, dict) or not roles_in:
        raise InputError(
            "roles is missing",
            file=file,
            field="roles",
            fix=f"map each role playing to who plays it; roles: {', '.join(ROLES)}",
        )
    roles = {check_role(r, file, f"roles.{r}"): str(who or "") for r, who in roles_in.items()}
    stacks = data.get("stacks") or {}
    if not isinstance(stacks, dict):
        raise InputError(
            "stacks is a mapping",
            file=file,
            field="stacks",
            fix="stacks: {primary: STACK, standby: STACK}",
        )
    check_keys(stacks, {"primary", "standby"}, file, "stacks.")
    objectives = data.get("objectives") or []
    if not isinstance(objectives, list):
        raise InputError(
            "objectives is a list", file=file, field="objectives", fix="one objective per list item"
        )
    raw = data.get("injects")
    if not isinstance(raw, list) or not raw:
        raise InputError(
            "injects is missing or empty",
            file=file,
            field="injects",
            fix="list the timed injects (see examples/tabletop/)",
        )
    injects = [_inject(item, n, file, roles) for n, item in enumerate(raw)]
    _unique([i.id for i in injects], file, "injects", "inject id")
    _unique([a.id for i in injects for a in i.expected], file, "expected_actions", "action id")
    if [i.time_s for i in injects] != sorted(i.time_s for i in injects):
        raise InputError(
            "injects are not in time order",
            file=file,
            field="injects",
            fix="list the injects by their time",
        )
    return Scenario(
        path,
        text_of(data, "name", file, ""),
        text_of(data, "title", file, ""),
        text_of(data, "summary", file, "", required=False),
        text_of(data, "service", file, ""),
        str(stacks["primary"]) if stacks.get("primary") else None,
        str(stacks["standby"]) if stacks.get("standby") else None,
        tuple(str(o) for o in objectives),
        roles,
        tuple(injects),
    )


def _unique(ids: list[str], file: str, field: str, what: str) -> None:
    seen = {i for i in ids if ids.count(i) > 1}
    if seen:
        raise InputError(
            f"{what} {sorted(seen)[0]!r} is used twice",
            file=file,
            field=field,
            fix=f"give every {what} its own name",
        )


def _inject(item: Any, n: int, file: str, roles: dict[str, str]) -> Inject:
    if not isinstance(item, dict):
        raise InputError(
            "an inject is a mapping",
            file=file,
            field=f"injects[{n}]",
            fix="id, time, title, situation, questions, expected_actions",
        )
    inject_id = text_of(item, "id", file, f"injects[{n}].")
    where = f"injects[{n}] ({inject_id})."
    check_keys(item, INJECT_KEYS, file, where)
    if item.get("time") is None:
        raise InputError(
            "the inject has no time",
            file=file,
            field=f"{where}time",
            fix="give it a time on the exercise clock: T+0, T+10m...",
        )
    time_s = parse_clock(item["time"], file, f"{where}time")
    questions = item.get("questions")
    if not isinstance(questions, dict) or not questions:
        raise InputError(
            "questions is missing",
            file=file,
            field=f"{where}questions",
            fix="ask at least one role a question: {role: question}",
        )
    asked = {
        check_role(r, file, f"{where}questions.{r}", roles): str(q) for r, q in questions.items()
    }
    actions = item.get("expected_actions")
    if not isinstance(actions, list) or not actions:
        raise InputError(
            "expected_actions is missing",
            file=file,
            field=f"{where}expected_actions",
            fix="list what the players should do: {id, role, action}",
        )
    expected = []
    for k, action in enumerate(actions):
        at = f"{where}expected_actions[{k}]."
        if not isinstance(action, dict):
            raise InputError(
                "an expected action is a mapping",
                file=file,
                field=at[:-1],
                fix="{id, role, action}",
            )
        check_keys(action, ACTION_KEYS, file, at)
        expected.append(
            ExpectedAction(
                text_of(action, "id", file, at),
                check_role(action.get("role"), file, f"{at}role", roles),
                text_of(action, "action", file, at),
            )
        )
    within = item.get("decide_within")
    return Inject(
        inject_id,
        time_s,
        text_of(item, "title", file, where),
        text_of(item, "situation", file, where),
        asked,
        tuple(expected),
        None if within is None else parse_duration(within, file, f"{where}decide_within"),
        _step(item.get("step"), file, f"{where}step"),
    )


# A step's keys; the drill's gates and RTO target matter only to a real step (dry: false).
STEP_KEYS = {"drill", "dry", "from", "to", "rate", "hold"}
REAL_STEP_KEYS = {"rto", "baseline_factor", "max_lag_ms"}
# The least each number may be, as `exitplan drill exit-plan` takes it (--rate, --hold...).
STEP_MINIMUM = {"rate": 1.0, "baseline_factor": 1.0, "max_lag_ms": 0.0}
HOLD_MINIMUM_S = 0.5  # --hold's least


def _step(value: Any, file: str, field: str) -> Step | None:
    if value is None:
        return None
    fix = (
        "step: {drill: exit-plan, dry: true} (or dry: false to run the drill on the sandbox; "
        "optionally from: STACK, to: STACK, rate: 50, hold: 2s)"
    )
    if not isinstance(value, dict):
        raise InputError("a step is a mapping", file=file, field=field, fix=fix)
    check_keys(value, STEP_KEYS | REAL_STEP_KEYS, file, f"{field}.")
    if value.get("drill") not in STEP_DRILLS:
        raise InputError(
            f"unknown drill {value.get('drill')!r}", file=file, field=f"{field}.drill", fix=fix
        )
    dry = value.get("dry")
    if not isinstance(dry, bool):
        raise InputError(
            f"dry is {dry!r}, not true or false",
            file=file,
            field=f"{field}.dry",
            fix="dry: true plans the drill (exitplan drill exit-plan --dry); dry: false runs it "
            "on the running sandbox (exitplan sandbox up first)",
        )
    only_real = sorted(REAL_STEP_KEYS & set(value))
    if dry and only_real:
        raise InputError(
            f"{only_real[0]} applies to a real step only",
            file=file,
            field=f"{field}.{only_real[0]}",
            fix=f"set dry: false to run the drill, or drop {only_real[0]}",
        )
    numbers = {key: _number(value, key, file, field) for key in STEP_MINIMUM}
    return Step(
        str(value["drill"]),
        value.get("from"),
        value.get("to"),
        dry,
        numbers["rate"],
        _seconds_of(value, "hold", file, field),
        _seconds_of(value, "rto", file, field),
        numbers["baseline_factor"],
        numbers["max_lag_ms"],
    )


def _seconds_of(value: dict[str, Any], key: str, file: str, field: str) -> float | None:
    """`value[key]` as seconds: a number (at least HOLD_MINIMUM_S) or a duration (`2s`, `15m`);
    None when absent."""
    given = value.get(key)
    if given is None or isinstance(given, str):
        return None if given is None else float(parse_duration(given, file, f"{field}.{key}"))
    fix = f"give {key} seconds (at least {HOLD_MINIMUM_S:g}) or a duration: 2s, 15m"
    return _at_least(given, HOLD_MINIMUM_S, key, file, field, fix)


def _number(value: dict[str, Any], key: str, file: str, field: str) -> float | None:
    """`value[key]` as a number at or above its `STEP_MINIMUM` (None when absent)."""
    given, least = value.get(key), STEP_MINIMUM[key]
    fix = f"give {key} a number of at least {least:g}"
    return None if given is None else _at_least(given, least, key, file, field, fix)


def _at_least(given: Any, least: float, key: str, file: str, field: str, fix: str) -> float:
    """`given` as a number of at least `least`; an InputError naming `field.key` otherwise."""
    if isinstance(given, bool) or not isinstance(given, int | float) or given < least:
        raise InputError(f"{key} is {given!r}", file=file, field=f"{field}.{key}", fix=fix)
    return float(given)
