"""Service prices from the clouds' public price APIs, where gpuhunt has none, for `exitplan
catalog refresh`: which row of `data/service_prices.csv` each API prices is data
(`data/service_price_sources.csv`: the API, the product, what to match, the region); each
API's response is read in its documented format:

- `aws-bulk`: the AWS Price List Bulk API's offer file of a service in a region (`products`
  with their `attributes.usagetype`, `terms.OnDemand` price dimensions); no credentials.
- `azure-retail`: the Azure Retail Prices API (`Items` with `retailPrice`, `unitOfMeasure`,
  `tierMinimumUnits`, pages by `NextPageLink`); no credentials.
- `gcp-billing`: the Cloud Billing Catalog API's SKUs of a service (`description`,
  `serviceRegions`, `pricingInfo[].pricingExpression.tieredRates[].unitPrice`, pages by
  `nextPageToken`); it needs an API key, read from `GOOGLE_API_KEY`.
"""

from __future__ import annotations

import json
import os
import urllib.error
import urllib.request
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from functools import cache
from typing import Any
from urllib.parse import urlencode

from components.catalog import Provenance, _parse
from components.errors import SourceUnavailableError

TIMEOUT_S = 60.0
GCP_KEY_VARIABLE = "GOOGLE_API_KEY"
AWS_OFFER = (
    "https://pricing.us-east-1.amazonaws.com/offers/v1.0/aws/{product}/current/{region}/index.json"
)
AZURE_PRICES = "https://prices.azure.com/api/retail/prices"
GCP_SKUS = "https://cloudbilling.googleapis.com/v1/services/{product}/skus"


@dataclass(frozen=True)
class PriceSource:
    """One row of `service_price_sources.csv`: which API prices a service price row, and how."""

    cloud: str
    item: str
    scope: str
    api: str
    product: str  # AWS service code, Azure serviceName, GCP service id
    match: str  # AWS usagetype suffix, Azure `field=value`, GCP SKU description
    region: str  # the region (or billing zone) whose price stands for the row's `*`
    provenance: Provenance


@dataclass(frozen=True)
class Quote:
    """What an API answered for one source row: a single price, or none, and the URL asked."""

    source: PriceSource
    usd: float | None
    url: str  # https, without credentials
    why: str = ""  # when usd is None: what the API did not give


@cache
def price_sources() -> tuple[PriceSource, ...]:
    """Every row of the price-source catalog."""
    return tuple(
        _parse(
            "service_price_sources.csv",
            lambda r, p: PriceSource(
                r["cloud"],
                r["item"],
                r["scope"],
                _api(r["api"]),
                r["product"],
                r["match"],
                r["region"],
                p,
            ),
        )
    )


def _api(name: str) -> str:
    if name not in APIS:
        raise ValueError(f"api {name!r} is not one of {', '.join(APIS)}")
    return name


def fetch_json(url: str) -> Any:
    """GET a JSON document (the one place these APIs are called; tests replace it)."""
    with urllib.request.urlopen(url, timeout=TIMEOUT_S) as response:
        return json.load(response)


def _get(api: str, url: str, shown: str) -> Any:
    """`fetch_json`, with a failure to reach the API as a `SourceUnavailableError`."""
    try:
        return fetch_json(url)
    except (urllib.error.URLError, TimeoutError, OSError) as exc:
        raise SourceUnavailableError(
            f"{api}: could not read {shown} ({exc}): this needs network access to the "
            "cloud's price API; nothing was changed"
        ) from exc


def _single(source: PriceSource, url: str, prices: list[float]) -> Quote:
    """A quote when the API gave exactly one distinct price, else none with why."""
    distinct = sorted(set(prices))
    if len(distinct) == 1:
        return Quote(source, distinct[0], url)
    why = "no matching price" if not distinct else f"several prices {distinct}"
    return Quote(source, None, url, why)


def aws_bulk(source: PriceSource) -> Quote:
    """The on-demand first-range price of the products whose usagetype ends with the match."""
    url = AWS_OFFER.format(product=source.product, region=source.region)
    offer = _get(source.api, url, url)
    skus = [
        sku
        for sku, product in offer["products"].items()
        if product.get("attributes", {}).get("usagetype", "").endswith(source.match)
    ]
    prices = [
        float(dimension["pricePerUnit"]["USD"])
        for sku in skus
        for term in offer["terms"]["OnDemand"].get(sku, {}).values()
        for dimension in term["priceDimensions"].values()
        if dimension.get("beginRange", "0") == "0"
    ]
    return _single(source, url, prices)


def _per_unit(item: dict[str, Any]) -> float:
    """A retail price per one unit ("1 Hour", "1/Month", "100 Hours": per the first number)."""
    count = item["unitOfMeasure"].split()[0].split("/")[0]
    return float(item["retailPrice"]) / float(count)


def azure_retail(source: PriceSource) -> Quote:
    """The first-tier consumption price of the service's items matching `field=value` in the
    source's region (its armRegionName or, for billing zones, its location)."""
    field, value = source.match.split("=", 1)
    query = (
        f"serviceName eq '{source.product}' and {field} eq '{value}' and priceType eq 'Consumption'"
    )
    url = f"{AZURE_PRICES}?{urlencode({'$filter': query})}"
    items: list[dict[str, Any]] = []
    page: str | None = url
    while page:
        document = _get(source.api, page, page)
        items += document["Items"]
        page = document.get("NextPageLink")
    prices = [
        _per_unit(item)
        for item in items
        if source.region in (item.get("armRegionName"), item.get("location"))
        and float(item.get("tierMinimumUnits", 0)) == 0
    ]
    return _single(source, url, prices)


def gcp_billing(source: PriceSource) -> Quote:
    """The first-tier price of the service's SKU with the match as its description, offered in
    the source's region; a `SourceUnavailableError` when no API key is set."""
    key = os.environ.get(GCP_KEY_VARIABLE, "").strip()
    url = GCP_SKUS.format(product=source.product)
    if not key:
        raise SourceUnavailableError(
            f"{source.api}: the Cloud Billing Catalog API needs credentials: set "
            f"{GCP_KEY_VARIABLE} to an API key, or leave gcp out (--cloud); nothing was changed"
        )
    skus: list[dict[str, Any]] = []
    token = ""
    while True:
        params = {"key": key, "currencyCode": "USD", "pageSize": "5000"}
        document = _get(source.api, f"{url}?{urlencode({**params, 'pageToken': token})}", url)
        skus += document.get("skus", [])
        token = document.get("nextPageToken", "")
        if not token:
            break
    prices = [
        int(rate["unitPrice"].get("units", "0")) + rate["unitPrice"].get("nanos", 0) / 1e9
        for sku in skus
        if sku.get("description") == source.match and source.region in sku.get("serviceRegions", [])
        for info in sku.get("pricingInfo", [])[:1]
        for rate in info["pricingExpression"]["tieredRates"]
        if float(rate.get("startUsageAmount", 0)) == 0
    ]
    return _single(source, url, prices)


APIS: dict[str, Callable[[PriceSource], Quote]] = {
    "aws-bulk": aws_bulk,
    "azure-retail": azure_retail,
    "gcp-billing": gcp_billing,
}


def quotes(clouds: Sequence[str]) -> list[Quote]:
    """A quote for every source row of `clouds` (a `SourceUnavailableError` when an API cannot
    be read here)."""
    return [APIS[s.api](s) for s in price_sources() if s.cloud in clouds]
