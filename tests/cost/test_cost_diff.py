"""`exitplan cost diff BASE HEAD` (issue 27 item 2): the monthly change per resource and in
total, as Markdown and `--json`; `--max-increase` and `--budget` pass or exit 1 naming the
resources that breached them; a negative limit or a bad file exits 2 naming it."""

from __future__ import annotations

import copy
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from components.catalog.pricing import instance_price
from components.cost.profile import HOURS_PER_MONTH as H
from components.errors import InputError
from runbooks.cli import app
from tests.conftest import ROOT
from tests.cost import pulumi_files as pf
from tests.runbooks.json_contract import validated

G4 = instance_price("aws", "g4dn.xlarge", "us-east-1", "on-demand").usd_per_hour
G5 = instance_price("aws", "g5.xlarge", "us-east-1", "on-demand").usd_per_hour


@pytest.fixture
def files(tmp_path: Path) -> tuple[Path, Path]:
    """A base preview and a head that grows the node group's minimum from 2 to 4 nodes,
    drops the EC2 GPU instance and adds a NAT gateway's second address."""
    base = pf.aws_program()
    head = copy.deepcopy(base)
    pool = next(s for s in head if s["urn"].endswith("::gpu-nodes"))
    pool["inputs"]["scalingConfig"]["minSize"] = 4
    head = [s for s in head if not s["urn"].endswith("::gpu-box")]
    head.append(pf.state("aws:ec2/eip:Eip", "nat-ip-2", {"domain": "vpc"}, "aws-east"))
    return (
        pf.write(tmp_path / "base.json", pf.preview(base)),
        pf.write(tmp_path / "head.json", pf.export(head)),  # a state against a preview
    )


def run(*args: str, code: int) -> Any:
    """`exitplan cost diff ARGS` in-process, expecting exit `code`."""
    result = CliRunner().invoke(app, ["cost", "diff", *args])
    assert result.exit_code == code, (result.output, result.exception)
    return result


def test_the_change_per_resource_and_in_total(files: tuple[Path, Path]) -> None:
    data = validated(run(*map(str, files), "--json", code=0).stdout)
    changes = {c["resource"]: c for c in data["changes"]}
    assert changes["gpu-nodes"]["status"] == "changed"
    assert changes["gpu-nodes"]["change_monthly_usd"] == pytest.approx(round(2 * G4 * H, 2))
    assert changes["gpu-box"]["status"] == "removed"
    assert changes["gpu-box"]["head_monthly_usd"] is None
    assert changes["gpu-box"]["change_monthly_usd"] == pytest.approx(round(-G5 * H, 2))
    assert changes["nat-ip-2"]["status"] == "added"
    assert changes["eks"]["status"] == "unchanged"
    expected = 2 * G4 * H - G5 * H + 0.005 * H
    assert data["change_monthly_usd"] == pytest.approx(expected, abs=0.01)
    assert data["head"]["monthly_usd"] - data["base"]["monthly_usd"] == pytest.approx(
        expected, abs=0.02
    )
    assert data["passed"] is True and data["breaches"] == []
    assert [u["resource"] for u in data["unpriced"]] == ["logs"]


def test_markdown_for_a_pull_request(files: tuple[Path, Path]) -> None:
    text = run(*map(str, files), code=0).stdout
    assert text.startswith("### exitplan cost diff\n")
    assert "| `gpu-nodes` | `aws:eks/nodeGroup:NodeGroup` | changed |" in text
    assert f"+${2 * G4 * H:,.2f} |" in text
    assert "| `gpu-box` |" in text and "removed" in text
    assert "`eks`" not in text  # unchanged rows are counted, not listed
    assert "3 resources changed in cost" in text
    assert "Budget check" not in text  # no gate asked for


def test_a_diff_that_crosses_a_budget_exits_1_naming_the_resources(
    files: tuple[Path, Path],
) -> None:
    increase = 2 * G4 * H - G5 * H + 0.005 * H
    passed = run(*map(str, files), "--max-increase", f"{increase + 1:.2f}", code=0).stdout
    assert "**Budget check passed.**" in passed
    failed = run(*map(str, files), "--max-increase", f"{increase - 1:.2f}", "--json", code=1)
    data = validated(failed.stdout)
    assert data["passed"] is False
    (breach,) = data["breaches"]
    assert breach["gate"] == "max-increase"
    assert breach["resources"] == ["gpu-nodes", "nat-ip-2"]  # what added, most first
    head_total = data["head"]["monthly_usd"]
    text = run(*map(str, files), "--budget", f"{head_total - 10:.2f}", code=1).stdout
    assert "**Budget check failed**: budget:" in text
    assert "caused by gpu-nodes" in text and "nat-ip-2" in text
    run(*map(str, files), "--budget", f"{head_total + 10:.2f}", code=0)


def test_stacks_of_the_project_diff_too() -> None:
    data = validated(
        run("aws-primary", "aws-primary", "--project", str(ROOT), "--json", code=0).stdout
    )
    assert data["change_monthly_usd"] == 0
    assert {c["status"] for c in data["changes"]} == {"unchanged"}


@pytest.mark.parametrize(
    ("args", "field"),
    [
        (("--budget", "-5"), "--budget"),
        (("--max-increase", "-0.5"), "--max-increase"),
    ],
)
def test_a_negative_limit_exits_2_naming_it(
    files: tuple[Path, Path], args: tuple[str, str], field: str
) -> None:
    result = CliRunner().invoke(app, ["cost", "diff", *map(str, files), *args])
    assert isinstance(result.exception, InputError) and result.exception.exit_code == 2
    assert result.exception.field == field


def test_a_bad_file_or_stack_exits_2_naming_it(files: tuple[Path, Path], tmp_path: Path) -> None:
    broken = tmp_path / "broken.json"
    broken.write_text("{", encoding="utf-8")
    result = CliRunner().invoke(app, ["cost", "diff", str(broken), str(files[1])])
    assert isinstance(result.exception, InputError) and result.exception.file == str(broken)
    result = CliRunner().invoke(
        app, ["cost", "diff", "no-such-stack", str(files[1]), "--project", str(ROOT)]
    )
    assert isinstance(result.exception, InputError) and result.exception.field == "BASE"
