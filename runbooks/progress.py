"""Progress on long work, drawn on stderr for a person: rich bars on a terminal (one row per
stage: a spinner, a bar, bytes with their speed, steps, or planned seconds with the time left,
and the time it took), one plain line per stage and message in a log (CI), nothing with --json.

The work reports through `model_packaging.progress.Progress`; this module only draws it."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from datetime import timedelta
from typing import TYPE_CHECKING

from rich.console import Console
from rich.progress import (
    BarColumn,
    DownloadColumn,
    ProgressColumn,
    SpinnerColumn,
    Task,
    TaskID,
    TextColumn,
    TimeElapsedColumn,
    TimeRemainingColumn,
    TransferSpeedColumn,
)
from rich.progress import Progress as RichProgress
from rich.text import Text

from model_packaging.progress import SILENT, Progress
from runbooks import render

if TYPE_CHECKING:
    from components.planning.runner import Plan
    from components.stack_config import Project, Stack


def _clock(seconds: float) -> str:
    """h:mm:ss, as rich's time columns write it."""
    return str(timedelta(seconds=max(round(seconds), 0)))


class _Status(SpinnerColumn):
    """A spinner while the stage runs, a tick when it is done, a cross when it failed."""

    def __init__(self) -> None:
        super().__init__(finished_text=Text("✓", style="green"))

    def render(self, task: Task) -> Text:
        if task.fields.get("failed"):
            return Text("✗", style="bold red")
        rendered = super().render(task)
        return rendered if isinstance(rendered, Text) else Text(str(rendered))


class _Amount(ProgressColumn):
    """How much is done: bytes with their speed (once measured), `i/N unit`, or seconds of the
    plan passed; nothing for a stage without a unit."""

    def render(self, task: Task) -> Text:
        unit = task.fields["unit"]
        if task.total is None or not unit:
            return Text("")
        if unit == "bytes":
            measured = task.finished_speed or task.speed
            speed = TransferSpeedColumn().render(task) if measured else ""
            return Text.assemble(DownloadColumn().render(task), " ", speed)
        return Text(f"{task.completed:.0f}/{task.total:.0f} {unit}")


class _Left(ProgressColumn):
    """The time left while the stage runs: the plan's for planned seconds (a drill), rich's
    estimate from the speed for bytes."""

    def render(self, task: Task) -> Text:
        if task.total is None or task.finished or task.fields.get("failed"):
            return Text("")
        if task.fields["unit"] == "s":
            return Text(f"{_clock(task.total - task.completed)} left", style="cyan")
        if task.fields["unit"] == "bytes":
            return Text.assemble(TimeRemainingColumn().render(task), " left")
        return Text("")


def _columns() -> tuple[ProgressColumn, ...]:
    return (
        _Status(),
        TextColumn("{task.description}", style="bold", markup=False),
        BarColumn(bar_width=20),
        _Amount(),
        _Left(),
        TimeElapsedColumn(),
    )


class Log:
    """A `Progress` as plain lines: `• stage: message` per stage, an indented line per
    message; no bars (a log, or a terminal that cannot redraw)."""

    def __init__(self, console: Console) -> None:
        self.console = console

    def __call__(self, message: str) -> None:
        """The message, indented under its stage."""
        self.console.print(Text(f"  {message}"), soft_wrap=True)

    def stage(
        self, name: str, message: str = "", *, total: float | None = None, unit: str = ""
    ) -> None:
        """`• name: message`."""
        line = Text.assemble(("• ", "green"), (name, "bold"), f": {message}" if message else "")
        self.console.print(line, soft_wrap=True)

    def advance(self, amount: float = 1) -> None:
        """Nothing: a log has no bars."""

    def done(self) -> None:
        """Nothing: the next line says the last stage ended."""


class Bars(Log):
    """A `Progress` as rich bars: a row per stage under the lines of the log (which print
    above the rows as the work goes on); the rows stay when the work is over."""

    def __init__(self, console: Console) -> None:
        super().__init__(console)
        self.rows = RichProgress(*_columns(), console=console, refresh_per_second=8)
        self.current: TaskID | None = None
        self.name = ""

    def stage(
        self, name: str, message: str = "", *, total: float | None = None, unit: str = ""
    ) -> None:
        """A new row (the current one is done), or the current row's total when it has the
        same name; the message prints above the rows."""
        if self.current is not None and name == self.name:
            if message:
                self(message)
            self.rows.update(self.current, total=total, unit=unit, refresh=True)
            return
        self.done()
        super().stage(name, message)
        self.name = name
        self.current = self.rows.add_task(name, total=total, unit=unit)

    def advance(self, amount: float = 1) -> None:
        """Move the current row's bar."""
        if self.current is not None:
            self.rows.advance(self.current, amount)

    def done(self) -> None:
        """Fill the current row and stop its clock (a row without a total gets one of 1)."""
        if self.current is None:
            return
        task = next(t for t in self.rows.tasks if t.id == self.current)
        total = 1.0 if task.total is None else task.total
        self.rows.update(self.current, total=total, completed=total, refresh=True)
        self.rows.stop_task(self.current)
        self.current = None

    def fail(self) -> None:
        """Mark the current row failed, where it stopped."""
        if self.current is not None:
            self.rows.update(self.current, failed=True, refresh=True)
            self.rows.stop_task(self.current)
            self.current = None


@contextmanager
def display(*, enabled: bool, console: Console | None = None) -> Iterator[Progress]:
    """The progress of one command on `console` (stderr): rich bars on a terminal, plain lines
    when it is not one (or cannot redraw), nothing when not `enabled` (--json). A stage that
    raises is marked failed; the exception goes on."""
    console = console or render.err
    if not enabled:
        yield SILENT
        return
    if not console.is_terminal or console.is_dumb_terminal:
        yield Log(console)
        return
    bars = Bars(console)
    with bars.rows:
        try:
            yield bars
        except BaseException:
            bars.fail()
            raise
        bars.done()


def plan_each(
    project: Project,
    stacks: Sequence[Stack],
    *,
    enabled: bool,
    planned: dict[str, Plan] | None = None,
) -> list[Plan]:
    """Each stack's offline plan, one progress step per stack on stderr (nothing when not
    `enabled`: --json): `parity`, `policy check` and `scorecard` plan every stack, seconds
    each, and printed nothing until done (review U14)."""
    from components.planning.runner import plan_stack

    plans = []
    with display(enabled=enabled) as progress:
        for number, stack in enumerate(stacks, 1):
            progress.stage(
                "plan", f"{stack.name} ({number}/{len(stacks)})", total=len(stacks), unit="steps"
            )
            plans.append(plan_stack(project, stack, planned))
            progress.advance()
        progress.done()
    return plans
