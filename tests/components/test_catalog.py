"""The catalog: provenance on every row, the instance families the issue lists, resolution."""

from __future__ import annotations

import pytest

from components import catalog
from components.catalog.resolve import cheapest_gpu_type, resolve
from components.errors import CatalogError
from components.providers.registry import CLOUDS
from components.spec import GpuSpec, parse_spec
from tests.conftest import service, stack_config

REQUIRED_FAMILIES = {
    "aws": ("g4dn.", "g5.", "g6.", "p4d.", "p5."),
    "azure": ("_NC4as_T4_v3", "_NV36ads_A10_v5", "_A100_v4", "_H100_v5"),
    "gcp": ("n1-standard-", "g2-standard-", "a2-", "a3-"),
}


@pytest.mark.parametrize("cloud", sorted(CLOUDS))
def test_every_row_has_source_date_and_price(cloud: str) -> None:
    rows = catalog.instance_types(cloud)
    assert rows
    for row in rows:
        assert row.provenance.source.startswith("https://")
        assert row.provenance.as_of.year >= 2025
        assert row.usd_per_hour > 0


@pytest.mark.parametrize("cloud", sorted(REQUIRED_FAMILIES))
def test_required_families_priced_in_three_regions(cloud: str) -> None:
    rows = catalog.instance_types(cloud)
    for family in REQUIRED_FAMILIES[cloud]:
        matching = [r for r in rows if family in r.instance_type]
        assert matching, f"{cloud} catalog lacks {family}"
    gpu_regions = {r.region for r in rows if r.gpu_count}
    assert len(gpu_regions) >= 3
    t4 = [r for r in rows if r.gpu_model == "T4"]
    assert len({r.region for r in t4}) >= 3


def test_n1_t4_on_gcp_names_the_accelerator() -> None:
    t4 = [r for r in catalog.instance_types("gcp") if r.gpu_model == "T4"]
    assert t4 and all(r.accelerator == "nvidia-tesla-t4" for r in t4)


def test_triton_versions_map_to_ngc_images() -> None:
    release = catalog.triton_release("2.51.0")
    assert release.ngc_release == "24.10"
    assert release.image == "nvcr.io/nvidia/tritonserver:24.10-py3"


def test_cheapest_type_that_meets_the_spec_is_picked() -> None:
    chosen = cheapest_gpu_type("aws", "us-east-1", GpuSpec(model="T4", min_memory_gib=16))
    same = [
        r
        for r in catalog.instance_types("aws")
        if r.region == "us-east-1" and r.gpu_model == "T4" and r.gpu_count == 1
    ]
    assert len(same) > 1
    assert chosen.usd_per_hour == min(r.usd_per_hour for r in same)
    assert chosen.instance_type == "g4dn.xlarge"


def test_no_fit_lists_what_the_region_offers() -> None:
    with pytest.raises(CatalogError) as caught:
        cheapest_gpu_type("aws", "us-east-1", GpuSpec(model="T4", min_memory_gib=40))
    assert caught.value.field == "gpu"
    assert "1x T4 (16 GiB)" in caught.value.fix


def test_unknown_gpu_model_lists_the_known_ones() -> None:
    with pytest.raises(CatalogError) as caught:
        cheapest_gpu_type("aws", "us-east-1", GpuSpec(model="V100", min_memory_gib=16))
    assert caught.value.field == "gpu.model"
    assert "T4" in caught.value.fix and "H100" in caught.value.fix


def test_unknown_region_lists_the_catalogs_regions() -> None:
    raw = service(stack_config("aws-primary"))
    raw.update(provider="gcp", region="mars-central1")
    with pytest.raises(CatalogError) as caught:
        resolve(parse_spec(raw, source="f"))
    assert caught.value.field == "region"
    assert "us-central1" in caught.value.fix


def test_gcp_gpu_pools_pinned_to_zones_offering_the_accelerator() -> None:
    raw = service(stack_config("aws-primary"))
    raw.update(provider="gcp", region="us-central1")
    plan = resolve(parse_spec(raw, source="f"))
    offered = catalog.gpu_zones()[("gcp", "us-central1", "nvidia-tesla-t4")]
    assert plan.gpu_zones == offered


def test_today_reads_exitplan_today(monkeypatch: pytest.MonkeyPatch) -> None:
    from components.catalog import today

    monkeypatch.setenv("EXITPLAN_TODAY", "2027-03-01")
    assert today().isoformat() == "2027-03-01"
    monkeypatch.setenv("EXITPLAN_TODAY", "next tuesday")
    with pytest.raises(CatalogError, match="EXITPLAN_TODAY"):
        today()
