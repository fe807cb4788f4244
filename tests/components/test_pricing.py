"""The pricing-model catalog: published rates win over discounts, every price is sourced, bad
arguments name themselves and list the valid values."""

from __future__ import annotations

import pytest

from components.catalog import instance_types
from components.catalog.pricing import (
    MODELS,
    clouds,
    instance_price,
    models,
    pricing_rows,
)
from components.errors import CatalogError


def test_p4d_on_demand_and_one_year_reserved_are_the_published_rates() -> None:
    on_demand = instance_price("aws", "p4d.24xlarge", "us-east-1", "on-demand")
    reserved = instance_price("aws", "p4d.24xlarge", "us-east-1", "reserved-1y")
    assert on_demand.usd_per_hour == pytest.approx(21.957642)
    assert (reserved.usd_per_hour, reserved.basis) == (13.92, "published")
    assert reserved.term_hours == 8760 and on_demand.term_hours == 0


def test_a_discount_row_applies_to_the_region_on_demand_rate() -> None:
    base = instance_price("gcp", "g2-standard-4", "europe-west4", "on-demand").usd_per_hour
    price = instance_price("gcp", "g2-standard-4", "europe-west4", "reserved-3y")
    assert price.usd_per_hour == pytest.approx(base * (1 - 0.55))
    assert price.basis == "estimate" and "estimate" in price.note


def test_the_most_specific_row_wins() -> None:
    exact = instance_price("aws", "p4d.24xlarge", "us-east-1", "spot")
    other_region = instance_price("aws", "p4d.24xlarge", "us-west-2", "spot")
    assert exact.usd_per_hour == 13.11
    assert other_region.basis == "estimate" and other_region.usd_per_hour != 13.11


@pytest.mark.parametrize("cloud", ["aws", "azure", "gcp", "oci"])
def test_every_gpu_type_prices_under_every_model_its_cloud_offers(cloud: str) -> None:
    for t in instance_types(cloud):
        for model in models(cloud):
            price = instance_price(cloud, t.instance_type, t.region, model)
            assert 0 < price.usd_per_hour <= t.usd_per_hour
            assert price.source.startswith("https://")
    assert set(MODELS) <= set(models(cloud)) or cloud == "oci"


def test_spot_prices_carry_their_interruption_note() -> None:
    for cloud in clouds():
        t = instance_types(cloud)[0]
        note = instance_price(cloud, t.instance_type, t.region, "spot").note
        assert any(word in note for word in ("notice", "reclaims")), (cloud, note)


@pytest.mark.parametrize(
    ("args", "field", "listed"),
    [
        (("ibm", "x", "r", "spot"), "cloud", "aws, azure, gcp, oci"),
        (("aws", "p9.huge", "us-east-1", "spot"), "instance", "p4d.24xlarge"),
        (("aws", "p4d.24xlarge", "mars-1", "spot"), "region", "us-east-1"),
        (("oci", "VM.GPU.A10.1", "us-ashburn-1", "reserved-1y"), "model", "on-demand, spot"),
    ],
)
def test_bad_arguments_name_the_field_and_list_valid_values(
    args: tuple[str, str, str, str], field: str, listed: str
) -> None:
    with pytest.raises(CatalogError) as caught:
        instance_price(*args)
    assert caught.value.field == field
    assert listed in caught.value.fix


def test_rows_are_either_a_rate_or_a_discount() -> None:
    for row in pricing_rows():
        assert (row.usd_per_hour is None) != (row.discount_pct is None)
        assert row.basis in ("published", "estimate")
