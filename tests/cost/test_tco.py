"""The cost of leaving: a hand-computed break-even, the what-if, and bad input (exit 2)."""

from __future__ import annotations

import datetime as dt
import sys

import pytest
from typer.testing import CliRunner

from components.cost.lines import Line, StackCost
from components.cost.tco import exit_cost, parse_what_if
from components.errors import InputError
from runbooks.cli import app, main
from tests.conftest import ROOT


def flat(stack: str, cloud: str, monthly: float) -> StackCost:
    """A stack costing `monthly` $ a month in one line."""
    line = Line(
        stack,
        cloud,
        "node",
        "n",
        "t",
        "d",
        "r",
        "s",
        "Compute",
        "Virtual Machines",
        "Hours",
        monthly,
        monthly,
        1.0,
        "https://example.invalid",
        dt.date(2026, 11, 30),
    )
    return StackCost(stack, cloud, "service", None, (line,))


def test_break_even_by_hand() -> None:
    """Stay: 100 a month. Leave: 2 dual-run months (100 + 60), 50 GB at $1 in month 1, then
    60. Cumulative: stay 100, 200, ..., 700; leave 210, 370, 430, 490, 550, 610, 670: leaving
    first costs no more in month 7 (670 <= 700)."""
    result = exit_cost(flat("a", "aws", 100), flat("b", "gcp", 60), 8, 2, 50, 1.0)
    assert result.stay == (100, 200, 300, 400, 500, 600, 700, 800)
    assert result.leave == (210, 370, 430, 490, 550, 610, 670, 730)
    assert result.break_even_month == 7
    assert result.savings == 70
    assert (
        exit_cost(flat("a", "aws", 100), flat("b", "gcp", 60), 6, 2, 50, 1.0).break_even_month
        is None
    )


def test_a_what_if_makes_an_exit_cheaper() -> None:
    """Stay 100, target 90, one dual-run month: leaving totals 190 + 90 (m - 1) against 100 m,
    even in month 10, past an 8-month horizon. With aws +40 %: 230 + 90 (m - 1) against 140 m,
    even from month 3."""
    stay, target = flat("a", "aws", 100), flat("b", "gcp", 90)
    before = exit_cost(stay, target, 8, 1, 0, 0.09)
    change = parse_what_if("aws:+40%")
    after = exit_cost(stay.scaled({change.cloud: change.factor}), target, 8, 1, 0, 0.09)
    assert before.break_even_month is None and after.break_even_month == 3
    assert str(change) == "aws:+40%" and change.factor == pytest.approx(1.4)


@pytest.mark.parametrize("text", ["aws+40%", "aws:40%", "aws:+40", "nimbus:+5%", "gcp:-100%"])
def test_a_malformed_what_if_names_the_argument(text: str) -> None:
    with pytest.raises(InputError) as error:
        parse_what_if(text)
    assert error.value.field == "--what-if" and "aws, azure, gcp, oci" in error.value.fix


@pytest.mark.parametrize(
    ("args", "named"),
    [
        (["--to", "gcp-standby", "--months", "-1"], "--months"),
        (["--to", "gcp-standby", "--months", "6", "--dual-run-months", "7"], "--dual-run-months"),
        (["--to", "gcp-standby", "--months", "6", "--what-if", "aws:lots"], "--what-if"),
        (["--to", "nowhere", "--months", "6"], "--to"),
        (["--to", "aws-primary", "--months", "6"], "--to"),
    ],
)
def test_bad_input_exits_2_naming_the_argument(
    args: list[str], named: str, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """Through the CLI's error handler: exit 2, and the error names the argument."""
    argv = ["exitplan", "cost", "tco", "--from", "aws-primary", *args, "--project", str(ROOT)]
    monkeypatch.setattr(sys, "argv", argv)
    with pytest.raises(SystemExit) as exited:
        main()
    assert exited.value.code == 2
    assert named in capsys.readouterr().err


def test_an_unknown_stack_to_leave_exits_2() -> None:
    result = CliRunner().invoke(
        app,
        [
            "cost",
            "tco",
            "--from",
            "nowhere",
            "--to",
            "gcp-standby",
            "--months",
            "3",
            "--project",
            str(ROOT),
        ],
    )
    assert isinstance(result.exception, InputError) and result.exception.exit_code == 2
    assert result.exception.field == "--from"


def test_the_target_stops_paying_for_replication_from_the_cloud_it_left() -> None:
    """B10: gcp-standby's running cost after leaving aws-primary still held `egress S3->GCS`
    (its replication from the abandoned bucket), and a what-if on aws prices raised it. Its
    cost after the exit is its hot estimate without the egress aws bills, what-if or not."""
    import json

    from components.cost.estimate import at_level, estimate_variant
    from components.cost.profile import Profile
    from components.stack_config import Project

    base = ["cost", "tco", "--from", "aws-primary", "--to", "gcp-standby", "--months", "24"]
    result = CliRunner().invoke(
        app, [*base, "--what-if", "aws:+40%", "--project", str(ROOT), "--json"]
    )
    assert result.exit_code == 0, result.output
    scenarios = json.loads(result.stdout)["scenarios"]
    monthly = [s["exits"][0]["target_monthly_usd"] for s in scenarios]
    project = Project(ROOT)
    hot = estimate_variant(project, at_level(project.stack("gcp-standby"), "hot"), Profile())
    replication = [ln for ln in hot.lines if ln.kind == "egress" and ln.cloud == "aws"]
    assert replication, "the standby's estimate bills a replication from aws (S3 -> GCS)"
    expected = round(hot.monthly - sum(ln.monthly for ln in replication), 2)
    assert monthly == [expected, expected]


def test_the_tco_usage_line_names_no_stacks_argument() -> None:
    """I6: `exitplan cost tco --help` read `Usage: exitplan cost [stacks]... tco [OPTIONS]`,
    an argument tco does not take."""
    result = CliRunner().invoke(app, ["cost", "tco", "--help"], env={"COLUMNS": "100"})
    assert result.exit_code == 0
    usage = next(line for line in result.output.splitlines() if "Usage:" in line)
    assert usage.split()[-2:] == ["tco", "[OPTIONS]"] and "[stacks]" not in usage, usage
