"""`exitplan catalog refresh` (issue 27 item 5) on recorded responses (no network): gpuhunt's
catalogs laid out as the bucket it downloads from, the price APIs' answers by URL. Changed
prices take their source's URL and today's date, new regions of known types are added; spot,
calendar-mode, other-GPU and unknown-region offers change nothing; `--dry` prints the diff and
writes nothing; every row keeps a source and a date; where a source needs network or
credentials that are missing, it says so, exits 1 and changes nothing."""

from __future__ import annotations

import csv
import datetime as dt
import io
import json
import re
import shutil
import urllib.error
import zipfile
from collections import Counter
from pathlib import Path
from typing import Any

import pytest
from gpuhunt._internal.catalog import CATALOG_URL
from typer.testing import CliRunner

from components.catalog import DATA, price_apis, today
from components.catalog.refresh import SERVICES, same_gpu
from components.errors import InputError, SourceUnavailableError
from runbooks.cli import app
from tests.runbooks.json_contract import validated

RECORDED = Path(__file__).parent / "recorded" / "gpuhunt"
ANSWERS = Path(__file__).parent / "recorded" / "price-apis.json"
VERSION = "20261130-0"
CLOUDS = ("aws", "azure", "gcp", "oci")
GCP_KEY = "test-key"


def without_key(url: str) -> str:
    """A URL without its `key` query parameter (the recorded URLs hold none)."""
    return re.sub(r"(?<=[?&])key=[^&]*&?", "", url)


@pytest.fixture(autouse=True)
def price_api_answers(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """The price APIs answer from price-apis.json, by URL (an unknown URL fails the test); a
    GCP API key is set. Returns the URLs asked, keys included."""
    answers = json.loads(ANSWERS.read_text(encoding="utf-8"))["responses"]
    asked: list[str] = []

    def fetch_json(url: str) -> Any:
        asked.append(url)
        assert without_key(url) in answers, f"no recorded answer for {url}"
        return answers[without_key(url)]

    monkeypatch.setattr(price_apis, "fetch_json", fetch_json)
    monkeypatch.setenv(price_apis.GCP_KEY_VARIABLE, GCP_KEY)
    return asked


@pytest.fixture
def bucket(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """The recorded catalogs as gpuhunt's bucket: <url>/<provider>/version naming the version,
    <url>/<provider>/<version>/catalog.zip holding <provider>.csv; GPUHUNT_CATALOG_URL at it."""
    root = tmp_path / "bucket"
    for recorded in RECORDED.glob("*.csv"):
        provider = root / recorded.stem
        (provider / VERSION).mkdir(parents=True)
        (provider / "version").write_text(f"{VERSION}\n", encoding="utf-8")
        with zipfile.ZipFile(provider / VERSION / "catalog.zip", "w") as archive:
            archive.write(recorded, f"{recorded.stem}.csv")
    monkeypatch.setenv("GPUHUNT_CATALOG_URL", root.as_uri())
    return root


@pytest.fixture
def data(tmp_path: Path) -> Path:
    """A copy of the catalog's instance files and service prices to refresh."""
    folder = tmp_path / "data"
    shutil.copytree(DATA / "instances", folder / "instances")
    shutil.copy(DATA / SERVICES, folder / SERVICES)
    return folder


def refresh(data: Path, *args: str, code: int = 0) -> Any:
    """`exitplan catalog refresh --data DATA ARGS` in-process, expecting exit `code`."""
    result = CliRunner().invoke(app, ["catalog", "refresh", "--data", str(data), *args])
    assert result.exit_code == code, (result.output, result.exception)
    return result


def rows(data: Path, cloud: str) -> list[dict[str, str]]:
    """A refreshed (or not) instance file's rows."""
    text = (data / "instances" / f"{cloud}.csv").read_text(encoding="utf-8")
    return list(csv.DictReader(io.StringIO(text)))


def row(data: Path, cloud: str, instance_type: str, region: str, gpu: str = "") -> dict[str, str]:
    """The one row of a type (and GPU, when given) in a region."""
    (found,) = [
        r
        for r in rows(data, cloud)
        if (r["instance_type"], r["region"]) == (instance_type, region)
        and (not gpu or r["gpu_model"] == gpu)
    ]
    return found


def recorded(provider: str) -> list[dict[str, str]]:
    """A recorded gpuhunt catalog's rows."""
    with (RECORDED / f"{provider}.csv").open(newline="", encoding="utf-8") as handle:
        return list(csv.DictReader(handle))


def offered(provider: str, instance_type: str, location: str, gpu: str = "") -> float:
    """The recorded on-demand price of a type in a location."""
    (price,) = [
        float(r["price"])
        for r in recorded(provider)
        if (r["instance_name"], r["location"], r["spot"]) == (instance_type, location, "False")
        and r["gpu_name"] == gpu
        and '"is_dws_calendar_mode": true' not in r["provider_data"]
    ]
    return price


def test_refresh_changes_prices_adds_regions_and_keeps_provenance(bucket: Path, data: Path) -> None:
    before = {cloud: rows(data, cloud) for cloud in CLOUDS}
    report = validated(refresh(data, "--json").stdout)
    source = f"{CATALOG_URL}/aws/{VERSION}/catalog.zip"
    as_of = today().isoformat()

    changed = row(data, "aws", "g4dn.xlarge", "us-west-2")
    assert float(changed["usd_per_hour"]) == offered("aws", "g4dn.xlarge", "us-west-2", "T4")
    assert (changed["source"], changed["as_of"]) == (source, as_of)
    confirmed = row(data, "aws", "g4dn.xlarge", "us-east-1")  # same price: left as it was
    assert confirmed == row_of(before["aws"], "g4dn.xlarge", "us-east-1")
    added = row(data, "aws", "g4dn.xlarge", "us-east-2")
    assert float(added["usd_per_hour"]) == offered("aws", "g4dn.xlarge", "us-east-2", "T4")
    sizes = ("accelerator", "gpu_model", "gpu_count", "gpu_memory_gib", "vcpus", "memory_gib")
    assert [added[k] for k in sizes] == [confirmed[k] for k in sizes]
    assert (added["source"], added["as_of"]) == (source, as_of)
    general = row(data, "aws", "m6i.large", "us-west-2")  # a general-purpose type too
    assert float(general["usd_per_hour"]) == offered("aws", "m6i.large", "us-west-2")
    assert not [r for r in rows(data, "aws") if r["region"] == "ap-south-2"]  # not in regions.csv

    # GCP lists zones: the cheapest on-demand zone of the region, not the calendar-mode one,
    # and not the V100 on the same machine type.
    gcp = row(data, "gcp", "n1-standard-4", "us-central1", "T4")
    zones = [offered("gcp", "n1-standard-4", f"us-central1-{z}", "T4") for z in "ab"]
    assert float(gcp["usd_per_hour"]) == min(zones)
    assert gcp["source"] == f"{CATALOG_URL}/gcp/{VERSION}/catalog.zip"
    assert float(row(data, "azure", "Standard_NC4as_T4_v3", "westus2")["usd_per_hour"]) == 0.6
    assert float(row(data, "oci", "VM.GPU.A10.2", "us-ashburn-1")["usd_per_hour"]) == 4.2

    statuses = {(c["file"], c["row"]): c["status"] for c in report["changes"]}
    assert statuses[("instances/aws.csv", "g4dn.xlarge T4x1 us-west-2")] == "changed"
    assert statuses[("instances/aws.csv", "g4dn.xlarge T4x1 us-east-2")] == "added"
    assert statuses[("instances/aws.csv", "g4dn.xlarge T4x1 eu-west-1")] == "not-offered"
    assert ("instances/aws.csv", "g4dn.xlarge T4x1 us-east-1") not in statuses
    assert statuses[("instances/aws.csv", "m6i.large us-west-2")] == "changed"
    assert statuses[(SERVICES, "azure control-plane aks-standard *")] == "changed"
    mapped = len(price_apis.price_sources())
    counts = Counter(c["status"] for c in report["changes"])
    assert counts == {
        "changed": 5 + 1,  # the AKS Standard tier's price moved in the recorded answer
        "added": 1,
        "not-offered": report_not_offered(before),
        "unmapped": len(services(DATA)) - mapped,
    }
    assert report["confirmed"] == 6 + mapped - 1
    assert report["written"] == [*(f"instances/{c}.csv" for c in CLOUDS), SERVICES]
    assert report["sources"] == ["gpuhunt", "aws-bulk", "azure-retail", "gcp-billing"]
    for cloud in CLOUDS:  # every row still has its https source and its ISO date
        after = rows(data, cloud)
        assert len(after) == len(before[cloud]) + (cloud == "aws")
        assert all(r["source"].startswith("https://") for r in after)
        assert all(dt.date.fromisoformat(r["as_of"]) <= today() for r in after)


def services(data: Path) -> list[dict[str, str]]:
    """The service price rows under `data`."""
    text = (data / SERVICES).read_text(encoding="utf-8")
    return list(csv.DictReader(io.StringIO(text)))


def service(data: Path, cloud: str, item: str, scope: str) -> dict[str, str]:
    """One service price row."""
    (found,) = [
        r for r in services(data) if (r["cloud"], r["item"], r["scope"]) == (cloud, item, scope)
    ]
    return found


def test_service_prices_from_the_clouds_price_apis(
    bucket: Path, data: Path, price_api_answers: list[str]
) -> None:
    """The AKS Standard tier takes the Retail Prices API's eastus price, its query URL and
    today's date; EKS (standard, not extended support), Azure DNS (first tier, Zone 1, two
    pages) and GKE (regional clusters, two pages) are confirmed and left as they were; a row
    no API maps is kept. The GCP key is sent, and is written nowhere."""
    before = {(r["cloud"], r["item"], r["scope"]): r for r in services(data)}
    report = validated(refresh(data, "--json").stdout)
    aks = service(data, "azure", "control-plane", "aks-standard")
    assert float(aks["usd"]) == 0.12
    assert aks["source"].startswith(f"{price_apis.AZURE_PRICES}?%24filter=serviceName+eq+")
    assert aks["as_of"] == today().isoformat()
    for key in [
        ("aws", "control-plane", "eks-standard"),
        ("azure", "dns-zone", "hosted-zone"),
        ("gcp", "control-plane", "gke"),
        ("aws", "egress", "internet"),
    ]:
        assert service(data, *key) == before[key], key
    unmapped = {c["row"]: c["why"] for c in report["changes"] if c["status"] == "unmapped"}
    assert unmapped["aws egress internet *"] == (
        "no public price API mapped in service_price_sources.csv"
    )
    assert sum("Azure+DNS" in url for url in price_api_answers) == 2  # both pages
    assert sum("CCD8-9BF1-090E" in url for url in price_api_answers) == 2
    assert all(f"key={GCP_KEY}" in url for url in price_api_answers if "cloudbilling" in url)
    assert GCP_KEY not in (data / SERVICES).read_text(encoding="utf-8") + report["diff"]


def test_a_price_api_without_a_single_price_keeps_the_row(
    bucket: Path, data: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """An answer with no matching item, and one with two prices for the row: unmatched, kept,
    with why."""
    answers = json.loads(ANSWERS.read_text(encoding="utf-8"))["responses"]

    def fetch_json(url: str) -> Any:
        answer = answers[without_key(url)]
        if "Azure+Kubernetes" in url:
            return {**answer, "Items": []}
        if "AmazonEKS" in url:
            extended = answer["products"]["XK7G9NQ3UH4B2C5D"]["attributes"]
            extended["usagetype"] = "USE1-AmazonEKS-Hours:perCluster"
        return answer

    monkeypatch.setattr(price_apis, "fetch_json", fetch_json)
    before = services(data)
    report = validated(refresh(data, "--cloud", "aws", "--cloud", "azure", "--json").stdout)
    unmatched = {c["row"]: c["why"] for c in report["changes"] if c["status"] == "unmatched"}
    assert unmatched["azure control-plane aks-standard *"].startswith(
        "azure-retail: no matching price at https://prices.azure.com/"
    )
    assert unmatched["aws control-plane eks-standard *"].startswith(
        "aws-bulk: several prices [0.1, 0.6] at https://pricing.us-east-1.amazonaws.com/"
    )
    assert services(data) == before


def row_of(table: list[dict[str, str]], instance_type: str, region: str) -> dict[str, str]:
    """A row of a table read before the refresh."""
    (found,) = [r for r in table if (r["instance_type"], r["region"]) == (instance_type, region)]
    return found


def report_not_offered(before: dict[str, list[dict[str, str]]]) -> int:
    """Rows of the catalog that no recorded on-demand offer lists (type, GPU and region)."""
    count = 0
    for cloud, table in before.items():
        listed = {
            (r["instance_name"], r["gpu_name"], r["location"].rsplit("-", 1)[0])
            if cloud == "gcp"
            else (r["instance_name"], r["gpu_name"], r["location"])
            for r in recorded(cloud)
            if r["spot"] == "False"
        }
        count += sum((r["instance_type"], r["gpu_model"], r["region"]) not in listed for r in table)
    return count


def test_a_dry_run_prints_the_diff_and_writes_nothing(bucket: Path, data: Path) -> None:
    before = (data / "instances" / "aws.csv").read_text(encoding="utf-8")
    output = refresh(data, "--dry", "--cloud", "aws").stdout
    assert (data / "instances" / "aws.csv").read_text(encoding="utf-8") == before
    assert "--- a/instances/aws.csv\n+++ b/instances/aws.csv\n" in output
    assert "\n-g4dn.xlarge,,T4,1,16,4,16,us-west-2,0.526," in output
    assert f"\n+g4dn.xlarge,,T4,1,16,4,16,us-west-2,0.5418,{CATALOG_URL}/aws/" in output
    assert "\n+g4dn.xlarge,,T4,1,16,4,16,us-east-2,0.526," in output
    assert "dry run: nothing written" in output
    assert "azure" not in output  # only the cloud asked for


def test_a_second_refresh_changes_nothing(bucket: Path, data: Path) -> None:
    refresh(data)
    again = validated(refresh(data, "--json").stdout)
    assert again["written"] == [] and again["diff"] == ""
    assert {c["status"] for c in again["changes"]} == {"not-offered", "unmapped"}


def test_without_the_catalogs_it_says_so_and_changes_nothing(
    data: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    before = {cloud: rows(data, cloud) for cloud in CLOUDS}
    monkeypatch.setenv("GPUHUNT_CATALOG_URL", (tmp_path / "offline").as_uri())
    result = refresh(data, code=1)
    assert isinstance(result.exception, SourceUnavailableError)
    assert "needs network access" in str(result.exception)
    assert "nothing was changed" in str(result.exception)
    assert {cloud: rows(data, cloud) for cloud in CLOUDS} == before


def test_a_price_api_out_of_reach_changes_nothing(
    bucket: Path, data: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    def unreachable(url: str) -> Any:
        raise urllib.error.URLError("[Errno -2] Name or service not known")

    monkeypatch.setattr(price_apis, "fetch_json", unreachable)
    before = (data / SERVICES).read_text(encoding="utf-8"), rows(data, "aws")
    result = refresh(data, code=1)
    assert str(result.exception).startswith("aws-bulk: could not read https://pricing.")
    assert "needs network access to the cloud's price API; nothing was changed" in str(
        result.exception
    )
    assert ((data / SERVICES).read_text(encoding="utf-8"), rows(data, "aws")) == before


def test_gcp_without_an_api_key_says_so_and_changes_nothing(
    bucket: Path, data: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv(price_apis.GCP_KEY_VARIABLE)
    before = (data / SERVICES).read_text(encoding="utf-8"), rows(data, "aws")
    result = refresh(data, code=1)
    assert "needs credentials: set GOOGLE_API_KEY" in str(result.exception)
    assert "nothing was changed" in str(result.exception)
    assert ((data / SERVICES).read_text(encoding="utf-8"), rows(data, "aws")) == before
    refresh(data, "--cloud", "aws", "--cloud", "azure")  # the clouds that need no key
    assert (data / SERVICES).read_text(encoding="utf-8") != before[0]


def test_a_cloud_gpuhunt_did_not_download_is_named(bucket: Path, data: Path) -> None:
    shutil.rmtree(bucket / "oci")
    result = refresh(data, code=1)
    assert "no catalog downloaded for oci" in str(result.exception)
    refresh(data, "--cloud", "aws")  # the clouds that are there still refresh


@pytest.mark.parametrize(
    ("args", "field"),
    [(("--cloud", "ibm"), "--cloud")],
)
def test_bad_input_exits_2_naming_the_option(data: Path, args: tuple[str, ...], field: str) -> None:
    result = CliRunner().invoke(app, ["catalog", "refresh", "--data", str(data), *args])
    assert isinstance(result.exception, InputError) and result.exception.field == field
    empty = data.parent / "empty"
    empty.mkdir()
    result = CliRunner().invoke(app, ["catalog", "refresh", "--data", str(empty)])
    assert isinstance(result.exception, InputError) and result.exception.field == "--data"


@pytest.mark.parametrize(
    ("ours", "theirs", "same"),
    [
        ("T4", "T4", True),
        ("A100-80GB", "A100", True),
        ("H100-NVL", "H100NVL", True),
        ("T4", "V100", False),
        ("", "", True),
        ("", "T4", False),
    ],
)
def test_gpu_names_match_across_spellings(ours: str, theirs: str, same: bool) -> None:
    assert same_gpu(ours, theirs) is same
