"""A rehearsal run live in a terminal: each inject on the exercise clock with its situation,
each role's question, what they answered (the expected actions it covers, when), a decision
with an owner, and the action items agreed. What is typed is checked as it is typed (an
unknown action id or a time before the inject is asked again) and becomes an answers file's
content, read by the same checks as `--answers` (`answers_from`).

The clock: a time defaults to the inject's time plus the minutes the room has spent on it
(the wall clock since the inject was shown); the facilitator may type another.

An inject with a step runs it when the inject is shown, before the room answers (a real drill
draws its progress, one line per phase, while it runs), and shows what it planned or measured.
"""

from __future__ import annotations

import datetime as dt
import time
from collections.abc import Callable
from typing import Any

from rich.console import Console
from rich.markup import escape
from rich.panel import Panel
from rich.prompt import Prompt
from rich.rule import Rule

from components.catalog import today
from components.errors import InputError
from runbooks.rehearsal.tabletop import Inject, Scenario, clock, fill, parse_clock
from runbooks.rehearsal.tabletop_answers import Answers, answers_from
from runbooks.rehearsal.tabletop_judge import DUE_DAYS
from runbooks.rehearsal.tabletop_step import StepRun, lines

SOURCE = "interactive session"
StepRunner = Callable[[Inject], StepRun]


class Session:
    """One facilitator at one terminal; `run_step` runs an inject's step (`steps`: what each
    inject's step gave)."""

    def __init__(
        self,
        scenario: Scenario,
        values: dict[str, str],
        console: Console,
        run_step: StepRunner | None = None,
    ) -> None:
        self.scenario, self.values, self.console = scenario, values, console
        self.run_step = run_step
        self.steps: dict[str, StepRun] = {}
        self.shown_at = time.monotonic()

    def ask(self, prompt: str, default: str = "") -> str:
        """A line typed at the terminal (`default` on a bare Enter)."""
        return Prompt.ask(
            prompt, console=self.console, default=default, show_default=bool(default)
        ).strip()

    def ask_valid(self, prompt: str, check: Callable[[str], Any], default: str = "") -> str:
        """A line that `check` accepts; its error is shown and the line asked again."""
        while True:
            text = self.ask(prompt, default)
            try:
                check(text)
            except (InputError, ValueError) as exc:
                self.console.print(f"[red]{escape(str(exc).splitlines()[0])}[/]; again")
                continue
            return text

    def now(self, inject: Inject) -> str:
        """The exercise clock now: the inject's time plus the whole minutes spent on it."""
        minutes = int((time.monotonic() - self.shown_at) // 60)
        return clock(inject.time_s + 60 * minutes)

    def run(self) -> Answers:
        """Every inject in turn; the answers, checked."""
        s = self.scenario
        self.console.print(Rule(f"[bold]{escape(s.title)}[/]"))
        if s.summary:
            self.console.print(escape(fill(s.summary, self.values)))
        people = {
            role: self.ask(f"Who plays {role}" + (f" ({escape(what)})?" if what else "?"))
            for role, what in s.roles.items()
        }
        injects = [self.inject(inject) for inject in s.injects]
        data = {"scenario": s.name, "participants": people, "injects": injects}
        return answers_from(data, s, SOURCE)

    def inject(self, inject: Inject) -> dict[str, Any]:
        """One inject shown and answered."""
        self.shown_at = time.monotonic()
        self.console.print(Rule(f"[bold]{inject.clock}[/] {escape(inject.title)}"))
        situation = Panel(escape(fill(inject.situation, self.values)), title="situation")
        self.console.print(situation, soft_wrap=False)  # wrapped in its box, never cropped
        if inject.step and self.run_step:
            self.show_step(inject)
        ids = [a.id for a in inject.expected]
        answers = []
        for role, question in inject.questions.items():
            self.console.print(f"[bold cyan]{role}[/]: {escape(fill(question, self.values))}")
            text = self.ask(f"{role} answers")
            if not text:
                continue
            covers = self.ask_valid(
                f"covers which expected actions ({', '.join(ids)})", lambda t: _ids(t, ids)
            )
            when = self.ask_valid("decided at", lambda t: _at(t, inject), self.now(inject))
            answers.append(
                {"role": role, "answer": text, "covers": _ids(covers, ids), "decided_at": when}
            )
        item: dict[str, Any] = {"id": inject.id, "answers": answers, "action_items": []}
        decision = self.ask("Decision (Enter: none)")
        if decision:
            item["decision"] = decision
            item["owner"] = self.ask_valid("Owner of the decision", _required)
            item["decided_at"] = self.ask_valid(
                "decided at", lambda t: _at(t, inject), self.now(inject)
            )
        while action := self.ask("Action item (Enter: no more)"):
            due = (today() + dt.timedelta(days=DUE_DAYS)).isoformat()
            item["action_items"].append(
                {
                    "action": action,
                    "owner": self.ask_valid("owner", _required),
                    "due": self.ask_valid("due", dt.date.fromisoformat, due),
                }
            )
        return item

    def show_step(self, inject: Inject) -> None:
        """Run the inject's step and show what it planned or measured (paths whole)."""
        assert inject.step is not None and self.run_step is not None
        what = "planning" if inject.step.dry else "running, under load on the sandbox,"
        self.console.print(f"[bold]step[/]: {what} the exit-plan drill")
        run = self.steps[inject.id] = self.run_step(inject)
        for label, text in lines(run.as_dict()):
            self.console.print(f"  [bold]{escape(label)}[/] {escape(text)}", soft_wrap=True)
        self.shown_at = time.monotonic()  # the room's clock starts once it has the figures


def _ids(text: str, ids: list[str]) -> list[str]:
    chosen = [t.strip() for t in text.replace(",", " ").split() if t.strip()]
    unknown = [t for t in chosen if t not in ids]
    if unknown:
        raise ValueError(f"no expected action {unknown[0]!r} here (use: {', '.join(ids)})")
    return chosen


def _at(text: str, inject: Inject) -> None:
    if parse_clock(text, "", "decided at") < inject.time_s:
        raise ValueError(f"{text} is before the inject ({inject.clock})")


def _required(text: str) -> None:
    if not text:
        raise ValueError("required")
