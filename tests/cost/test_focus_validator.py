"""The FinOps Foundation's `focus-validator` (the peer yardstick for FOCUS rows, issue 27 item 3)
accepts every shipped stack's rows at the newest FOCUS version it ships rules for, with 0
failures; and it does fail rows that break the specification, so the verdict can turn.

It runs offline from its own environment (`make focus-env`, which `make test` builds), with
`--block-download --rule-set-path` at its packaged rules, from its site-packages folder: it
reads its currency table (`focus_validator/rules/currency_codes.csv`) relative to the working
folder."""

from __future__ import annotations

import csv
import datetime as dt
import io
import json
import re
import subprocess
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from components.cost.estimate import estimate
from components.cost.focus import FOCUS_VERSION, focus_csv, focus_rows
from components.cost.profile import Profile
from components.planning.runner import Plan
from components.stack_config import Project
from tests.conftest import ALL_STACKS, ROOT

FOCUS_ENV = ROOT / ".exitplan" / "focus-env"
# The one rule no row set can pass, in focus-validator 2.2.1's model-1.2.0.1.json: InvoiceId-C-004-C
# ("MUST be null when the charge is not associated with an invoice") is CheckValue(InvoiceId,
# null) and InvoiceId-C-005-C ("MUST NOT be null when [it is]") is CheckNotValue(InvoiceId,
# null), both with an empty Condition: the prose's "when" is not in the check. The validator
# counts `InvoiceId IS NOT NULL` rows as C-004's violations and `InvoiceId IS NULL` rows as
# C-005's, so every row violates exactly one of them; their parent InvoiceId-C-003-C (an OR of
# the two) passes either way. Leaving the column out fails 7 rules (CostAndUsage-D-033-O
# recommends it; both checks then fail). An estimate is on no invoice: its InvoiceId is null,
# as the specification says, and fails C-005 alone; a filled InvoiceId would fail C-004 alone.
CONTRADICTORY = {"InvoiceId-C-004-C": "CheckValue", "InvoiceId-C-005-C": "CheckNotValue"}
ESTIMATE_FAILS = ("InvoiceId-C-005-C",)
INVOICED_FAILS = ("InvoiceId-C-004-C",)
# What focus-validator 2.2.1 (tests/cost/focus-env.txt) prints for every shipped stack's rows:
# 137 rules evaluated (the rest skipped: dynamic rules and rules for absent optional columns).
PASSED = 136
TOTALS = re.compile(r"Total: (\d+) \| Pass: (\d+) \| Fail: (\d+) \| Skipped: (\d+)")
FAILED = re.compile(r"^- ([\w-]+): violations=", re.MULTILINE)


@dataclass(frozen=True)
class Verdict:
    """What focus-validator printed: its counts and the failed rules' IDs."""

    total: int
    passed: int
    failed: int
    failures: tuple[str, ...]
    output: str


def site_packages() -> Path:
    """The folder focus_validator is installed in (the validator's working folder)."""
    found = sorted(FOCUS_ENV.glob("lib/python3.*/site-packages/focus_validator"))
    if not found:
        pytest.fail(f"{FOCUS_ENV} has no focus-validator: run `make focus-env`")
    return found[-1].parent


def model_file() -> Path:
    """The rules of the newest FOCUS version the installed validator ships (model-<v>.json)."""
    rules = site_packages() / "focus_validator" / "rules"
    return max(rules.glob("model-*.json"), key=lambda p: _version(p)[1])


def _version(path: Path) -> tuple[str, tuple[int, ...]]:
    text = path.stem.removeprefix("model-")
    return text, tuple(int(n) for n in text.split("."))


def supported_version() -> str:
    """The FOCUS version of `model_file()` ("1.2.0.1")."""
    return _version(model_file())[0]


def model_rules() -> dict[str, Any]:
    """The validator's rules by ID."""
    rules: dict[str, Any] = json.loads(model_file().read_text(encoding="utf-8"))["ModelRules"]
    return rules


def validate(csv_path: Path) -> Verdict:
    """Run focus-validator over one CSV at the version it ships rules for, offline."""
    version = ".".join(supported_version().split(".")[:2])
    result = subprocess.run(
        [
            str(FOCUS_ENV / "bin" / "focus-validator"),
            "--data-file",
            str(csv_path),
            "--validate-version",
            version,
            "--block-download",
            "--rule-set-path",
            "focus_validator/rules",
        ],
        cwd=site_packages(),
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )
    output = result.stdout + result.stderr
    totals = TOTALS.search(output)
    assert totals, f"no totals in focus-validator's output (exit {result.returncode}):\n{output}"
    total, passed, failed, _skipped = map(int, totals.groups())
    return Verdict(total, passed, failed, tuple(FAILED.findall(output)), output)


@pytest.fixture(scope="module")
def rows(project: Project, plans: dict[str, Plan]) -> list[dict[str, str]]:
    """Every shipped stack's FOCUS rows at the default profile."""
    costs = [estimate(project.stack(s), plans[s], Profile()) for s in ALL_STACKS]
    return focus_rows(costs, "exitplan", dt.date(2026, 12, 1))


def test_the_rows_follow_the_version_the_validator_ships() -> None:
    assert supported_version().startswith(f"{FOCUS_VERSION}.")


def test_the_validators_invoiceid_rules_contradict_each_other() -> None:
    """The one failure the rows are allowed, only while the shipped rules are contradictory:
    the same null check, unconditional, once required and once forbidden, under a parent that
    asks for one of them."""
    rules = model_rules()
    for rule_id, function in CONTRADICTORY.items():
        criteria = rules[rule_id]["ValidationCriteria"]
        assert (criteria["Condition"], rules[rule_id]["ApplicabilityCriteria"]) == ({}, []), rule_id
        requirement = criteria["Requirement"]
        assert (requirement["CheckFunction"], requirement["ColumnName"]) == (function, "InvoiceId")
        assert requirement["Value"] is None
    parent = rules["InvoiceId-C-003-C"]["ValidationCriteria"]["Requirement"]
    assert parent["CheckFunction"] == "OR"
    assert {item["ModelRuleId"] for item in parent["Items"]} == set(CONTRADICTORY)


def test_an_invoiced_row_fails_the_other_invoiceid_rule(
    rows: list[dict[str, str]], tmp_path: Path
) -> None:
    """The contradiction as the validator runs it: the same rows with an InvoiceId pass C-005
    and fail C-004, so no InvoiceId passes both."""
    path = tmp_path / "invoiced.csv"
    path.write_text(focus_csv([dict(r, InvoiceId="estimate-1") for r in rows]), encoding="utf-8")
    verdict = validate(path)
    assert (verdict.failures, verdict.passed) == (INVOICED_FAILS, PASSED), verdict.output[-4000:]


def test_every_service_subcategory_has_its_allowed_category(rows: list[dict[str, str]]) -> None:
    """ServiceSubcategory-C-004-M's allowed (subcategory, category) pairs, checked row by row
    here: the validator's OR over allowed values passes a column when any row matches one."""
    items = model_rules()["ServiceSubcategory-C-004-M"]["ValidationCriteria"]["Requirement"]
    allowed = {tuple(check["Value"] for check in pair["Items"]) for pair in items["Items"]}
    used = {(r["ServiceSubcategory"], r["ServiceCategory"]) for r in rows}
    assert used <= allowed, used - allowed


def test_focus_validator_passes_every_stacks_rows(
    rows: list[dict[str, str]], tmp_path: Path
) -> None:
    assert {r["x_Stack"] for r in rows} == set(ALL_STACKS)
    path = tmp_path / "focus.csv"
    path.write_text(focus_csv(rows), encoding="utf-8")
    verdict = validate(path)
    assert verdict.failures == ESTIMATE_FAILS, (verdict.failures, verdict.output[-4000:])
    assert (verdict.passed, verdict.failed) == (PASSED, len(ESTIMATE_FAILS))


def test_focus_validator_fails_rows_that_break_the_specification(
    rows: list[dict[str, str]], tmp_path: Path
) -> None:
    """Two categories for one service name and no ServiceSubcategory column: each breaks a
    rule the shipped rows pass."""
    broken = [dict(r) for r in rows]
    same = next(r for r in broken[1:] if r["ServiceName"] == broken[0]["ServiceName"])
    same["ServiceCategory"] = "Storage" if same["ServiceCategory"] != "Storage" else "Compute"
    columns = [c for c in rows[0] if c != "ServiceSubcategory"]
    buffer = io.StringIO()
    writer = csv.DictWriter(buffer, fieldnames=columns, extrasaction="ignore", lineterminator="\n")
    writer.writeheader()
    writer.writerows(broken)
    path = tmp_path / "broken.csv"
    path.write_text(buffer.getvalue(), encoding="utf-8")
    verdict = validate(path)
    expected = {"ServiceName-C-005-C", "CostAndUsage-D-042-O", "ServiceSubcategory-C-001-M"}
    assert expected <= set(verdict.failures), json.dumps(verdict.failures)
