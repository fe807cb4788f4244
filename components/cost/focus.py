"""Cost lines as FinOps FOCUS 1.2 rows (CSV), so an estimate sits beside the clouds' billing
exports in any FOCUS tool.

The 21 columns FOCUS 1.2 makes mandatory come first, spelled as the specification's column
IDs (https://github.com/FinOps-Open-Cost-and-Usage-Spec/FOCUS_Spec/tree/v1.2/specification/
columns, "Feature level: Mandatory"), then the conditional and recommended ones an estimate
knows (resource, region, pricing category, unit prices, service subcategory; InvoiceId, null:
an estimate is on no invoice), then exitplan's own columns, prefixed `x_` as
the specification requires of custom columns. One row per line: one estimated month, from
`start` for `HOURS_PER_MONTH` hours, billed as usage at the line's priced model. Date/times
are UTC `YYYY-MM-DDTHH:mm:ssZ`; numbers are plain decimals.
"""

from __future__ import annotations

import csv
import datetime as dt
import io
from collections.abc import Iterable

from components.catalog.clouds import facts
from components.cost.lines import Line, StackCost
from components.cost.profile import HOURS_PER_MONTH

FOCUS_VERSION = "1.2"
MANDATORY = (
    "BilledCost",
    "BillingAccountId",
    "BillingAccountName",
    "BillingCurrency",
    "BillingPeriodEnd",
    "BillingPeriodStart",
    "ChargeCategory",
    "ChargeClass",
    "ChargeDescription",
    "ChargePeriodEnd",
    "ChargePeriodStart",
    "ContractedCost",
    "EffectiveCost",
    "InvoiceIssuerName",
    "ListCost",
    "PricingQuantity",
    "PricingUnit",
    "ProviderName",
    "PublisherName",
    "ServiceCategory",
    "ServiceName",
)
CONDITIONAL = (
    "ChargeFrequency",
    "ConsumedQuantity",
    "ConsumedUnit",
    "ContractedUnitPrice",
    "InvoiceId",
    "ListUnitPrice",
    "PricingCategory",
    "RegionId",
    "ResourceId",
    "ResourceName",
    "ResourceType",
    "ServiceSubcategory",
    "SubAccountId",
)
CUSTOM = ("x_Stack", "x_Kind", "x_PricingModel", "x_Source", "x_AsOf", "x_Note")
COLUMNS = MANDATORY + CONDITIONAL + CUSTOM
# FOCUS types of the columns this module writes that are not strings.
DECIMALS = {
    "BilledCost",
    "ContractedCost",
    "EffectiveCost",
    "ListCost",
    "PricingQuantity",
    "ConsumedQuantity",
    "ContractedUnitPrice",
    "ListUnitPrice",
}
DATETIMES = {"BillingPeriodEnd", "BillingPeriodStart", "ChargePeriodEnd", "ChargePeriodStart"}
# FOCUS PricingCategory of each model a line can be priced at.
PRICING_CATEGORY = {"on-demand": "Standard", "spot": "Dynamic"}


def focus_rows(costs: Iterable[StackCost], account: str, start: dt.date) -> list[dict[str, str]]:
    """One FOCUS row per line of every estimate; `account` names the billing account (the
    Pulumi project), `start` the first day of the estimated month."""
    begin = dt.datetime.combine(start, dt.time(), tzinfo=dt.UTC)
    end = begin + dt.timedelta(hours=HOURS_PER_MONTH)
    return [_row(line, account, begin, end) for cost in costs for line in cost.lines]


def _row(line: Line, account: str, begin: dt.datetime, end: dt.datetime) -> dict[str, str]:
    provider = facts(line.cloud).display_name
    cost = _decimal(line.monthly)
    values = {
        "BilledCost": cost,
        "BillingAccountId": account,
        "BillingAccountName": f"{account} (exitplan estimate)",
        "BillingCurrency": "USD",
        "BillingPeriodEnd": _when(end),
        "BillingPeriodStart": _when(begin),
        "ChargeCategory": "Usage",
        "ChargeClass": "",
        "ChargeDescription": f"{line.description} ({line.stack}): estimate",
        "ChargePeriodEnd": _when(end),
        "ChargePeriodStart": _when(begin),
        "ContractedCost": cost,
        "EffectiveCost": cost,
        "InvoiceIssuerName": provider,
        "ListCost": _decimal(line.monthly_list),
        "PricingQuantity": _decimal(line.quantity),
        "PricingUnit": line.unit,
        "ProviderName": provider,
        "PublisherName": provider,
        "ServiceCategory": line.service_category,
        "ServiceName": line.service_name,
        "ChargeFrequency": "Usage-Based",
        "ConsumedQuantity": _decimal(line.quantity),
        "ConsumedUnit": line.unit,
        "ContractedUnitPrice": _decimal(line.unit_price),
        "InvoiceId": "",  # an estimate is on no invoice: null, as FOCUS asks
        "ListUnitPrice": _decimal(line.list_unit_price),
        "PricingCategory": PRICING_CATEGORY.get(line.pricing_model, "Standard"),
        "RegionId": line.region,
        "ResourceId": f"{line.stack}/{line.resource}",
        "ResourceName": line.resource,
        "ResourceType": line.resource_type,
        "ServiceSubcategory": line.service_subcategory,
        "SubAccountId": line.stack,
        "x_Stack": line.stack,
        "x_Kind": line.kind,
        "x_PricingModel": line.pricing_model,
        "x_Source": line.source,
        "x_AsOf": line.as_of.isoformat(),
        "x_Note": line.note,
    }
    return {column: values[column] for column in COLUMNS}


def _decimal(value: float) -> str:
    """A FOCUS numeric value: a plain decimal, no exponent, no thousands separator."""
    text = f"{value:.10f}".rstrip("0").rstrip(".")
    return "0" if text in ("", "-0") else text


def _when(moment: dt.datetime) -> str:
    return moment.astimezone(dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def focus_csv(rows: list[dict[str, str]]) -> str:
    """The rows as CSV with a header of the column IDs (an empty cell is a null)."""
    buffer = io.StringIO()
    writer = csv.DictWriter(buffer, fieldnames=COLUMNS, lineterminator="\n")
    writer.writeheader()
    writer.writerows(rows)
    return buffer.getvalue()
