"""`exitplan scorecard`: figures from journals on disk (read defensively), weights that are not
numbers refused, a ranking that follows the weights."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
import typer
from typer.testing import CliRunner

from components.errors import InputError
from runbooks.commands.scorecard import scorecard_app
from runbooks.reports.scorecard import (
    DEFAULT_WEIGHTS,
    StackCard,
    load_journals,
    measure,
    read_weights,
    score,
)
from tests.conftest import ROOT


def drill(root: Path, name: str, to: str, *, passed: bool, p99: float, failed: int,
          wrong: int | None, start: str, rto: float) -> None:  # fmt: skip
    """A drill journal from aws-primary to `to` on the sandbox; `wrong` None: an older journal
    without the field."""
    phases = [
        {"start_s": 0, "end_s": 10, "sent": 1000, "failed": 0, "p50_ms": 4, "p99_ms": 9,
         "share": {"aws-primary": 1.0}},
        {"start_s": 10, "end_s": 12, "sent": 200, "failed": 50, "p99_ms": 400,
         "share": {"aws-primary": 0.5, to: 0.5}},
        {"start_s": 12, "end_s": 22, "sent": 1000, "failed": failed, "p50_ms": 6, "p99_ms": p99,
         "share": {to: 1.0}},
    ]  # fmt: skip
    load: dict[str, Any] = {"scheduled": 2200}
    if wrong is not None:
        load["wrong_answers"] = wrong
    ex = {"from": "aws-primary", "to": to, "target": "sandbox", "phases": phases, "load": load,
          "rto_measured_s": rto, "verdict": {"passed": passed}}  # fmt: skip
    folder = root / "drills" / name
    folder.mkdir(parents=True)
    (folder / "journal.json").write_text(json.dumps({"start": start, "exitplan": ex}))


@pytest.fixture
def journals(tmp_path: Path) -> Path:
    root = tmp_path / ".exitplan"
    drill(root, "1", "gcp-standby", passed=True, p99=20, failed=0, wrong=0,
          start="2026-11-01T10:00:00", rto=12.0)  # fmt: skip
    drill(root, "2", "gcp-standby", passed=False, p99=30, failed=10, wrong=None,
          start="2026-11-20T10:00:00", rto=48.5)  # fmt: skip
    drill(root, "3", "azure-standby", passed=True, p99=80, failed=50, wrong=7,
          start="2026-11-10T10:00:00", rto=20.0)  # fmt: skip
    chaos = root / "chaos" / "c1"
    chaos.mkdir(parents=True)
    weights = {"aws-primary": 100, "gcp-standby": 0}
    ex = {"target": "sandbox", "before": {"weights": weights}}
    record = {"status": "completed", "deviated": True, "exitplan": ex}
    (chaos / "journal.json").write_text(json.dumps(record))
    (root / "drills" / "broken").mkdir()
    (root / "drills" / "broken" / "journal.json").write_text("{not json")
    return root


def cards() -> dict[str, StackCard]:
    return {
        s: StackCard(s, s.split("-")[0]) for s in ("aws-primary", "gcp-standby", "azure-standby")
    }


def test_figures_from_the_journals(journals: Path) -> None:
    found = cards()
    measure(found, load_journals(journals))
    gcp, azure, aws = found["gcp-standby"], found["azure-standby"], found["aws-primary"]
    assert gcp.drills == 2 and gcp.metrics["drill_pass_rate"] == 0.5
    assert gcp.metrics["error_rate"] == pytest.approx(10 / 2000)  # only phases it served alone
    assert gcp.metrics["p99_ms"] == 30 and gcp.metrics["p50_ms"] == 6
    assert gcp.metrics["wrong_answers"] == 0  # the older journal has no field: not counted
    assert gcp.metrics["last_cutover_s"] == 48.5  # the latest drill's
    assert azure.metrics["wrong_answers"] == 7
    assert aws.metrics["p99_ms"] == 9 and aws.drills == 0 and "drill_pass_rate" not in aws.metrics
    assert (gcp.chaos_runs, gcp.chaos_passed) == (1, 0)
    assert gcp.measured_on == ["sandbox"]


def test_scores_rank_and_follow_the_weights(journals: Path) -> None:
    found = cards()
    measure(found, load_journals(journals))
    found["gcp-standby"].metrics["achievable_rto_s"] = 90.0
    found["azure-standby"].metrics["achievable_rto_s"] = 635.0
    score(list(found.values()), DEFAULT_WEIGHTS)
    # gcp scaled by hand: p50 6 in 4..6 -> 0; p99 30 in 9..80 -> 1 - 21/71; errors 0.005 in
    # 0..0.05 -> 0.9; wrong 0 in 0..7 -> 1; pass 0.5 in 0.5..1 -> 0; cutover 48.5 in 20..48.5
    # -> 0; RTO 90 in 90..635 -> 1; cost and policy unmeasured -> 0 (weights sum to 1).
    gcp = 0.15 * (1 - 21 / 71) + 0.2 * 0.9 + 0.15 * 1 + 0.1 * 1
    assert found["gcp-standby"].score == pytest.approx(gcp)
    assert found["gcp-standby"].coverage == pytest.approx(0.85)
    assert found["aws-primary"].score == pytest.approx(0.05 + 0.15 + 0.2)  # best latency, errors
    assert [c.stack for c in sorted(found.values(), key=lambda c: c.rank or 9)] == [
        "gcp-standby",
        "aws-primary",
        "azure-standby",
    ]
    only_pass_rate = {k: 0.0 for k in DEFAULT_WEIGHTS} | {"drill_pass_rate": 1.0}
    score(list(found.values()), only_pass_rate)
    assert found["azure-standby"].rank == 1  # 1/1 drills passed against gcp's 1/2


@pytest.mark.parametrize(
    ("text", "field"),
    [("p99_ms: fast\n", "p99_ms"), ("error_rate: -1\n", "error_rate"),
     ("latency: 1\n", "latency"), ("- 1\n", "--weights"), ("p99_ms: true\n", "p99_ms")],
)  # fmt: skip
def test_weights_that_are_not_numbers_exit_2(tmp_path: Path, text: str, field: str) -> None:
    path = tmp_path / "w.yaml"
    path.write_text(text)
    with pytest.raises(InputError) as caught:
        read_weights(path)
    assert caught.value.field == field and caught.value.exit_code == 2
    assert read_weights(None) == DEFAULT_WEIGHTS


def test_command_on_the_project(journals: Path, tmp_path: Path) -> None:
    app = typer.Typer()
    app.add_typer(scorecard_app, name="scorecard")
    app.command("x")(lambda: None)
    page = tmp_path / "card.html"
    example = str(ROOT / "examples" / "measurements.csv")
    args = ["scorecard", "--project", str(ROOT), "--journals", str(journals), "--no-policy",
            "--measurements", example, "--html", str(page)]  # fmt: skip
    result = CliRunner().invoke(app, [*args, "--json"])
    assert result.exit_code == 0, result.output
    data = json.loads(result.stdout)
    by = {c["stack"]: c for c in data["stacks"]}
    assert by["gcp-standby"]["metrics"]["usd_per_million"] > 0
    assert by["gcp-standby"]["rank"] == 1 and "sandbox" in by["gcp-standby"]["measured_on"]
    assert "gcp-standby" in page.read_text()
    bad = tmp_path / "w.yaml"
    bad.write_text("p99_ms: high\n")
    refused = CliRunner().invoke(app, ["scorecard", "--project", str(ROOT), "--weights", str(bad)])
    assert isinstance(refused.exception, InputError)


def test_an_interrupted_or_unfinished_drill_is_no_failed_drill(journals: Path) -> None:
    """B7: Ctrl-C is the operator's choice and a "running" journal (a killed run) is no
    verdict: neither counts as a drill of its standby, passed or failed."""
    for name, status in (("4", "interrupted"), ("5", "running")):
        drill(journals, name, "gcp-standby", passed=False, p99=30, failed=0, wrong=0,
              start="2026-11-02T10:00:00", rto=12.0)  # fmt: skip
        path = journals / "drills" / name / "journal.json"
        path.write_text(json.dumps({**json.loads(path.read_text()), "status": status}))
    found = cards()
    measure(found, load_journals(journals))
    assert found["gcp-standby"].drills == 2
    assert found["gcp-standby"].metrics["drill_pass_rate"] == 0.5


def test_a_provider_score_weighs_its_stacks_by_evidence_and_both_views_agree(
    journals: Path, tmp_path: Path
) -> None:
    """U7: a provider's score averaged in an edge stack with no evidence (aws: 0.17 with
    aws-wavelength's 0.05); the terminal had no coverage column and the HTML no provider
    ranking; $/1M read "-" with no hint that --measurements fills it in."""
    from runbooks.reports.scorecard import providers

    drilled, bare = StackCard("aws-primary", "aws"), StackCard("aws-wavelength", "aws")
    drilled.score, drilled.coverage, bare.score, bare.coverage = 0.6, 0.8, 0.05, 0.1
    (aws,) = providers([drilled, bare])
    assert aws["score"] == pytest.approx((0.6 * 0.8 + 0.05 * 0.1) / 0.9)
    app = typer.Typer()
    app.add_typer(scorecard_app, name="scorecard")
    app.command("x")(lambda: None)
    page = tmp_path / "card.html"
    args = ["scorecard", "--project", str(ROOT), "--journals", str(journals), "--no-policy",
            "--html", str(page)]  # fmt: skip
    result = CliRunner().invoke(app, args, env={"COLUMNS": "200"})
    assert result.exit_code == 0, result.output
    assert "cover" in result.stdout and "85%" in result.stdout
    assert "$/1M: pass --measurements FILE" in result.stdout
    html = page.read_text()
    assert "Providers (stacks weighted by coverage)" in html and "gcp-standby" in html
