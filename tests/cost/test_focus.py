"""FOCUS 1.2 rows: every mandatory column present, named as the specification's column IDs,
with values of its type; costs add up to the estimate."""

from __future__ import annotations

import csv
import datetime as dt
import io
import re

import pytest

from components.cost.estimate import estimate
from components.cost.focus import focus_csv, focus_rows
from components.cost.lines import StackCost
from components.cost.profile import Profile
from components.planning.runner import Plan
from components.stack_config import Project
from tests.conftest import ALL_STACKS

# FOCUS 1.2, specification/columns/*.md with "Feature level: Mandatory" at tag v1.2
# (https://github.com/FinOps-Open-Cost-and-Usage-Spec/FOCUS_Spec/tree/v1.2), with their data
# types and whether they allow nulls.
MANDATORY = {
    "BilledCost": ("Decimal", False),
    "BillingAccountId": ("String", False),
    "BillingAccountName": ("String", True),
    "BillingCurrency": ("String", False),
    "BillingPeriodEnd": ("Date/Time", False),
    "BillingPeriodStart": ("Date/Time", False),
    "ChargeCategory": ("String", False),
    "ChargeClass": ("String", True),
    "ChargeDescription": ("String", True),
    "ChargePeriodEnd": ("Date/Time", False),
    "ChargePeriodStart": ("Date/Time", False),
    "ContractedCost": ("Decimal", False),
    "EffectiveCost": ("Decimal", False),
    "InvoiceIssuerName": ("String", False),
    "ListCost": ("Decimal", False),
    "PricingQuantity": ("Decimal", True),
    "PricingUnit": ("String", True),
    "ProviderName": ("String", False),
    "PublisherName": ("String", False),
    "ServiceCategory": ("String", False),
    "ServiceName": ("String", False),
}
SERVICE_CATEGORIES = {"Compute", "Networking", "Storage", "Security", "Migration", "Other"}
DECIMAL = re.compile(r"^-?\d+(\.\d+)?$")  # no sign on positives, no exponent, no separators
DATETIME = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}Z$")


@pytest.fixture(scope="module")
def costs(project: Project, plans: dict[str, Plan]) -> list[StackCost]:
    """Every shipped stack at the default profile."""
    return [estimate(project.stack(s), plans[s], Profile()) for s in ALL_STACKS]


@pytest.fixture(scope="module")
def rows(costs: list[StackCost]) -> list[dict[str, str]]:
    """The FOCUS CSV of every stack, parsed back."""
    text = focus_csv(focus_rows(costs, "exitplan", dt.date(2026, 12, 1)))
    return list(csv.DictReader(io.StringIO(text)))


def test_every_mandatory_column_is_present_with_values_of_its_type(
    rows: list[dict[str, str]],
) -> None:
    assert rows
    assert set(MANDATORY) <= set(rows[0])
    custom = [c for c in rows[0] if c not in MANDATORY]
    assert all(c[0].isupper() or c.startswith("x_") for c in custom)
    for row in rows:
        for column, (kind, nullable) in MANDATORY.items():
            value = row[column]
            if not value:
                assert nullable, f"{column} is null in {row['ResourceId']}"
            elif kind == "Decimal":
                assert DECIMAL.match(value), (column, value)
            elif kind == "Date/Time":
                assert DATETIME.match(value), (column, value)
        assert row["ChargeCategory"] in {"Usage", "Purchase", "Tax", "Credit", "Adjustment"}
        assert row["ChargeClass"] == ""  # not a correction of an invoiced period
        assert row["ServiceCategory"] in SERVICE_CATEGORIES
        assert row["BillingCurrency"] == "USD"
        assert row["PricingUnit"]  # PricingQuantity is set on every row, so its unit is too
        assert row["PricingCategory"] in {"Standard", "Dynamic", "Committed", "Other"}


def test_the_charge_period_is_the_estimated_month(rows: list[dict[str, str]]) -> None:
    assert {(r["ChargePeriodStart"], r["ChargePeriodEnd"]) for r in rows} == {
        ("2026-12-01T00:00:00Z", "2026-12-31T10:00:00Z")  # 730 hours
    }


def test_costs_add_up_to_the_estimate(rows: list[dict[str, str]], costs: list[StackCost]) -> None:
    for cost in costs:
        mine = [r for r in rows if r["SubAccountId"] == cost.stack]
        assert len(mine) == len(cost.lines)
        assert sum(float(r["BilledCost"]) for r in mine) == pytest.approx(cost.monthly, abs=1e-6)
        for row in mine:
            expected = float(row["ContractedUnitPrice"]) * float(row["PricingQuantity"])
            assert float(row["BilledCost"]) == pytest.approx(expected, abs=1e-6)
    egress = next(r for r in rows if r["x_Kind"] == "egress" and float(r["BilledCost"]) > 0)
    assert (
        egress["ProviderName"] == "Amazon Web Services" and egress["SubAccountId"] == "gcp-standby"
    )
