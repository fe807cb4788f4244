"""`exitplan cost compare`: the p4d exercise's memo recomputed by hand from the catalog rows,
break-even utilisation, the recommendation turning with the job, bad input exits 2."""

from __future__ import annotations

import csv
import re
from pathlib import Path

import pytest
import typer
from typer.testing import CliRunner

from components.catalog import DATA
from components.cost.compare import Job, compare
from components.errors import InputError
from runbooks.commands.cost_compare import compare as compare_command
from runbooks.reports.memo import compare_memo


def catalog_row(relative: str, **match: str) -> dict[str, str]:
    """The one row of a catalog CSV whose columns equal `match`, read with csv, not the reader."""
    with (DATA / relative).open(newline="", encoding="utf-8") as handle:
        rows = [r for r in csv.DictReader(handle) if all(r[k] == v for k, v in match.items())]
    assert len(rows) == 1, (relative, match, rows)
    return rows[0]


def usd(v: float) -> str:
    return f"${v:,.2f}"


def test_p4d_memo_figures_recomputed_by_hand(tmp_path: Path) -> None:
    """8xA100 p4d.24xlarge for 100 hours: on-demand vs a 1-year reservation."""
    od = float(
        catalog_row("instances/aws.csv", instance_type="p4d.24xlarge", region="us-east-1")[
            "usd_per_hour"
        ]
    )
    ri = float(
        catalog_row(
            "pricing_models.csv", scope="p4d.24xlarge", region="us-east-1", model="reserved-1y"
        )["usd_per_hour"]
    )
    on_demand_cost = od * 100  # 100 hours, one instance of 8 GPUs
    reserved_cost = ri * 8760  # a 1-year term bills every hour of the year
    break_even = ri / od
    assert (round(on_demand_cost, 2), round(reserved_cost, 2)) == (2195.76, 121939.20)

    memo = compare_memo(compare(Job("p4d.24xlarge", 100, gpus=8)), "2026-11-30")
    assert "8x A100-40GB (1x p4d.24xlarge) for 100 hours" in memo
    assert f"## Recommendation: on-demand, {usd(on_demand_cost)}" in memo
    row = next(line for line in memo.splitlines() if line.startswith("| reserved-1y |"))
    cells = [c.strip() for c in row.strip("|").split("|")]
    assert cells[1] == f"${ri:,.4f}" and cells[2] == "8,760 (term)"
    assert cells[3] == usd(reserved_cost)
    assert cells[4] == f"{(reserved_cost / on_demand_cost - 1) * 100:+.1f}%"
    assert cells[5] == f"{break_even:.1%}" == "63.4%"
    assert f"({break_even * 8760:,.0f} h)" in memo
    assert "https://instances.vantage.sh/aws/ec2/p4d.24xlarge (as of 2026-07-07; published)" in memo


def test_a_long_job_makes_the_reservation_win() -> None:
    """Past the break-even share of the year (63.4%), the 1-year reservation is cheaper."""
    short = compare(Job("p4d.24xlarge", 5_000))
    long = compare(Job("p4d.24xlarge", 6_000))
    assert short.option("reserved-1y").job_cost > short.option("on-demand").job_cost
    assert long.option("reserved-1y").job_cost < long.option("on-demand").job_cost
    assert long.option("reserved-1y").savings_pct > 0
    assert long.recommended != "on-demand"


def test_spot_is_recommended_only_for_an_interruptible_job() -> None:
    assert compare(Job("p4d.24xlarge", 100)).recommended == "on-demand"
    interruptible = compare(Job("p4d.24xlarge", 100, interruptible=True))
    assert interruptible.recommended == "spot"
    assert any("2-minute interruption notice" in r for r in interruptible.reasons)


def test_gpus_round_up_to_whole_instances() -> None:
    c = compare(Job("g5.12xlarge", 10, gpus=6))
    assert (c.gpus_per_instance, c.instances) == (4, 2)
    assert c.option("on-demand").job_cost == pytest.approx(5.672 * 10 * 2)


def test_a_job_longer_than_a_term_starts_a_second_term() -> None:
    c = compare(Job("p4d.24xlarge", 9_000))
    assert c.option("reserved-1y").terms == 2
    assert c.option("reserved-1y").job_cost == pytest.approx(13.92 * 8760 * 2)


@pytest.mark.parametrize(
    ("job", "field", "listed"),
    [
        (Job("p4d.24xlarge", -5), "--hours", ""),
        (Job("p4d.24xlarge", 10, gpus=0), "--gpus", ""),
        (Job("p9.huge", 10), "--instance", "p4d.24xlarge"),
        (Job("p4d.24xlarge", 10, cloud="ibm"), "--cloud", "aws, azure, gcp, oci"),
        (Job("p4d.24xlarge", 10, cloud="gcp"), "--instance", "a2-highgpu-1g"),
        (Job("p4d.24xlarge", 10, region="mars-1"), "--region", "us-east-1"),
    ],
)
def test_bad_input_names_the_option_and_lists_valid_values(
    job: Job, field: str, listed: str
) -> None:
    with pytest.raises(InputError) as caught:
        compare(job)
    assert caught.value.field == field and caught.value.exit_code == 2
    assert listed in caught.value.fix


def test_command_writes_the_memo_and_prints_the_recommendation(tmp_path: Path) -> None:
    app = typer.Typer()
    app.command("compare")(compare_command)
    app.callback()(lambda: None)  # a group, so the command is named as under `exitplan cost`
    memo = tmp_path / "out" / "memo.md"
    args = [
        "compare",
        "--instance",
        "p4d.24xlarge",
        "--gpus",
        "8",
        "--hours",
        "100",
        "--memo",
        str(memo),
    ]
    result = CliRunner().invoke(app, args)
    assert result.exit_code == 0, result.output
    assert re.search(r"recommended: on-demand", result.stdout)
    assert memo.read_text().startswith("# Pricing memo: 8x A100-40GB")
    bad = CliRunner().invoke(app, ["compare", "--instance", "p4d.24xlarge", "--hours", "-1"])
    assert isinstance(bad.exception, InputError) and bad.exception.field == "--hours"
