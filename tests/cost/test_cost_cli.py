"""`exitplan cost` end to end, offline: the JSON validates against its schema, the standby
trade-off is there, FOCUS and HTML are written; the plan cache makes the second run read
plans from disk, and its key follows what changes a plan."""

from __future__ import annotations

import csv
import json
import time
from pathlib import Path
from typing import Any

import pytest
import yaml
from typer.testing import CliRunner

from components.errors import InputError
from components.planning import cache
from components.planning.runner import Plan
from components.stack_config import Project
from runbooks.cli import app
from tests.conftest import ALL_STACKS, ROOT, copied_project
from tests.runbooks.json_contract import validated


@pytest.fixture(scope="module")
def plan_cache(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A plan cache of this module's own."""
    return tmp_path_factory.mktemp("plans")


def run(plan_cache: Path, *args: str) -> tuple[Any, float]:
    """`exitplan cost ARGS` in-process with the module's plan cache; result and seconds."""
    start = time.perf_counter()
    result = CliRunner().invoke(
        app, ["cost", *args, "--project", str(ROOT)], env={cache.CACHE_VARIABLE: str(plan_cache)}
    )
    assert result.exit_code == 0, (result.output, result.exception)
    return result, time.perf_counter() - start


@pytest.fixture(scope="module")
def document(plan_cache: Path, tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    """One cold run over every stack with --json, --html and --format focus --out."""
    out = tmp_path_factory.mktemp("out")
    result, _ = run(
        plan_cache,
        "--json",
        "--html",
        str(out / "cost.html"),
        "--format",
        "focus",
        "--out",
        str(out / "focus.csv"),
    )
    return {"json": validated(result.stdout), "out": out}


def test_json_validates_and_totals_add_up(document: dict[str, Any]) -> None:
    data = document["json"]
    assert [s["stack"] for s in data["stacks"]] == list(ALL_STACKS)
    assert data["total_monthly_usd"] == pytest.approx(
        sum(s["monthly_usd"] for s in data["stacks"]), abs=0.05
    )
    for stack in data["stacks"]:
        assert stack["monthly_usd"] == pytest.approx(
            sum(line["monthly_usd"] for line in stack["lines"]), abs=0.05
        )


def test_the_standby_tradeoff_sets_levels_against_rto(document: dict[str, Any]) -> None:
    rows = document["json"]["standby_tradeoff"]
    for standby in ("gcp-standby", "azure-standby", "oci-standby"):
        levels = {r["level"]: r for r in rows if r["standby"] == standby}
        assert set(levels) == {"hot", "warm", "pilot-light"}
        assert sum(r["current"] for r in levels.values()) == 1
        assert levels["pilot-light"]["monthly_usd"] < levels["warm"]["monthly_usd"]
        assert levels["pilot-light"]["rto_s"] > levels["warm"]["rto_s"]
        assert levels["hot"]["monthly_usd"] >= levels["warm"]["monthly_usd"]


def test_focus_and_html_are_written(document: dict[str, Any]) -> None:
    rows = list(csv.DictReader((document["out"] / "focus.csv").open()))
    lines = sum(len(s["lines"]) for s in document["json"]["stacks"])
    assert len(rows) == lines
    page = (document["out"] / "cost.html").read_text()
    assert page.startswith("<!DOCTYPE html>") and "<svg" in page and "Standby trade-off" in page
    assert "http" not in page.split("<body>")[1].split("<table>")[0]  # no fetches before tables


def test_the_second_run_reads_plans_from_the_cache(
    document: dict[str, Any], plan_cache: Path
) -> None:
    files = sorted(plan_cache.glob("*.json"))
    assert {f.name.rsplit("-", 1)[0] for f in files} >= set(ALL_STACKS)
    result, seconds = run(plan_cache, "--json")
    assert validated(result.stdout)["stacks"] == document["json"]["stacks"]
    assert sorted(plan_cache.glob("*.json")) == files  # nothing planned again
    assert seconds < 3


def test_the_table_fits_80_columns(document: dict[str, Any], plan_cache: Path) -> None:
    result = CliRunner().invoke(
        app,
        ["cost", "aws-primary", "gcp-standby", "--project", str(ROOT)],
        env={cache.CACHE_VARIABLE: str(plan_cache), "COLUMNS": "80"},
    )
    assert result.exit_code == 0, result.output
    table_lines = [line for line in result.stdout.splitlines() if "$" in line]
    assert table_lines and max(len(line) for line in table_lines) <= 80


def test_a_cached_plan_round_trips(plans: dict[str, Plan], tmp_path: Path) -> None:
    path = tmp_path / "p.json"
    cache._store(path, plans["aws-primary"])
    assert cache._load(path) == plans["aws-primary"]


def test_the_key_follows_the_stack_and_what_it_derives_from(tmp_path: Path) -> None:
    """A standby's key changes with its own file and with its primary's; an unrelated stack's
    file leaves it as it is."""
    project = copied_project(tmp_path)

    def key(name: str) -> str:
        return cache.plan_key(Project(project.root), Project(project.root).stack(name))

    before = key("gcp-standby")

    def edit(name: str, change: Any) -> None:
        path = project.root / "stacks" / f"Pulumi.{name}.yaml"
        data = yaml.safe_load(path.read_text())
        change(data["config"])
        path.write_text(yaml.safe_dump(data))

    edit("aws-wavelength", lambda c: c["exitplan:edge"].update(max_nodes=3))
    assert key("gcp-standby") == before
    edit("aws-primary", lambda c: c["exitplan:service"]["gpu"].update(max_nodes=5))
    after_primary = key("gcp-standby")
    assert after_primary != before
    edit("gcp-standby", lambda c: c["exitplan:standby"].update(level="hot"))
    assert key("gcp-standby") not in (before, after_primary)


def test_bad_format_and_profile_exit_2(plan_cache: Path, tmp_path: Path) -> None:
    for args in (["--format", "csv"], ["--out", str(tmp_path / "x.csv")]):
        result = CliRunner().invoke(app, ["cost", *args, "--project", str(ROOT)])
        assert isinstance(result.exception, InputError) and result.exception.exit_code == 2
        assert result.exception.field == args[0]
    profile = tmp_path / "p.yaml"
    profile.write_text(json.dumps({"unit": "fraction", "hours": [2] * 24}))
    result = CliRunner().invoke(
        app, ["cost", "--utilisation", str(profile), "--project", str(ROOT)]
    )
    assert isinstance(result.exception, InputError) and result.exception.field == "hours[0]"
