"""Catalog breadth (issue 24 item 4): every priced type belongs to a family whose size ladder is
recorded; the general-purpose families (system pools) carry their whole ladder in every region
they are priced in; a refusal names `exitplan catalog coverage`, which prints what is covered."""

from __future__ import annotations

import numpy as np
import pytest
from typer.testing import CliRunner

from components import catalog
from components.catalog.coverage import cloud_coverage, coverage, instance_families
from components.catalog.resolve import cheapest_system_type, resolve
from components.errors import CatalogError
from components.providers.registry import CLOUDS
from components.spec import SystemPoolSpec, parse_spec
from runbooks.cli import app
from tests.conftest import service, stack_config
from tests.runbooks.json_contract import validated


def _cpu_families(cloud: str) -> set[str]:
    """The families whose priced rows have no GPU: what system pools run on."""
    cpu_types = {
        (t.instance_type, t.vcpus) for t in catalog.instance_types(cloud) if not t.gpu_count
    }
    return {f.family for f in instance_families() if f.cloud == cloud and cpu_types & set(f.ladder)}


@pytest.mark.parametrize("cloud", sorted(CLOUDS))
def test_every_priced_type_has_a_family_and_every_family_a_price(cloud: str) -> None:
    covered = cloud_coverage(cloud)
    assert covered.unladdered == ()
    priced = {f.family for f in covered.families}
    assert priced == {f.family for f in instance_families() if f.cloud == cloud}


@pytest.mark.parametrize("cloud", sorted(CLOUDS))
def test_general_purpose_families_carry_their_whole_ladder_in_every_region(cloud: str) -> None:
    families = _cpu_families(cloud)
    assert families, f"{cloud}: no CPU family for system pools"
    rows = [f for f in cloud_coverage(cloud).families if f.family in families]
    assert [(f.family, f.region, f.missing) for f in rows if not f.complete] == []
    # ... in every region the cloud's GPU types are priced in.
    gpu_regions = {t.region for t in catalog.instance_types(cloud) if t.gpu_count}
    assert gpu_regions <= {f.region for f in rows}


def on_the_line(sizes: list[tuple[int, int]], prices: list[float]) -> bool:
    """Whether prices are one rate per vCPU plus one per GPU (least squares, 1e-4 relative)."""
    matrix = np.array(sizes, dtype=float)
    rates = np.linalg.lstsq(matrix, np.array(prices), rcond=None)[0]
    return bool(np.allclose(matrix @ rates, prices, rtol=1e-4))


@pytest.mark.parametrize("cloud", sorted(CLOUDS))
def test_linear_families_price_by_vcpus_and_gpus(cloud: str) -> None:
    """A `linear` family prices each vCPU (with its memory) and each GPU the same at every size
    of a region, as its pricing page does; its rows, read and derived, must fit that line."""
    families = [f for f in instance_families() if f.cloud == cloud and f.pricing == "linear"]
    assert families
    for family in families:
        rows = [
            t for t in catalog.instance_types(cloud) if (t.instance_type, t.vcpus) in family.ladder
        ]
        for region in {t.region for t in rows}:
            here = [t for t in rows if t.region == region]
            sizes = [(t.vcpus, t.gpu_count) for t in here]
            assert on_the_line(sizes, [t.usd_per_hour for t in here]), (family.family, region)


def test_a_price_off_the_line_fails() -> None:
    assert on_the_line([(2, 0), (4, 0), (8, 0)], [0.096, 0.192, 0.384])
    assert not on_the_line([(2, 0), (4, 0), (8, 0)], [0.096, 0.192, 0.400])
    # g2-standard: vCPUs and L4s priced apart (us-central1's read rows).
    assert on_the_line([(4, 1), (8, 1), (24, 2)], [0.706824, 0.853608, 2.000784])


def test_six_vcpus_for_aws_primary_system_pool_resolve() -> None:
    """The wall the issue names: `system_pool.min_vcpus: 6` on aws-primary was refused."""
    raw = service(stack_config("aws-primary"))
    raw["system_pool"] = {**raw.get("system_pool", {}), "min_vcpus": 6}
    plan = resolve(parse_spec(raw, source="f"))
    assert plan.system_instance.instance_type == "m6i.2xlarge"


def test_a_refusal_names_the_coverage_command() -> None:
    with pytest.raises(CatalogError) as caught:
        cheapest_system_type("aws", "us-east-1", SystemPoolSpec(min_vcpus=512))
    assert caught.value.exit_code == 2 and caught.value.field == "system_pool"
    assert "`exitplan catalog coverage`" in caught.value.fix


def test_gaps_are_reported_per_region() -> None:
    """A GPU ladder the catalog prices only in part shows its missing sizes per region."""
    aws = {(f.family, f.region): f for f in cloud_coverage("aws").families}
    assert "g4dn.4xlarge" in aws[("g4dn", "us-east-1")].missing
    assert aws[("p4d", "us-east-1")].complete


def test_catalog_coverage_json_and_table() -> None:
    result = CliRunner().invoke(app, ["catalog", "coverage", "--json"])
    assert result.exit_code == 0, result.output
    report = validated(result.stdout)
    assert [c["cloud"] for c in report["clouds"]] == [c.cloud for c in coverage()]
    aws = next(c for c in report["clouds"] if c["cloud"] == "aws")
    assert "us-east-1" in aws["regions"]
    assert any(f["family"] == "m6i" and f["complete"] for f in aws["families"])
    table = CliRunner().invoke(app, ["catalog", "coverage"], env={"COLUMNS": "200"})
    assert table.exit_code == 0 and "m6i" in table.output and "g4dn.4xlarge" in table.output
