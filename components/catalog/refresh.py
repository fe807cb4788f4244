"""`exitplan catalog refresh`: the catalog's prices brought up to date, as a diff of the CSV
files: instance offers from gpuhunt (`components.catalog.gpuhunt_offers`), service prices from
the clouds' public price APIs where gpuhunt has none (`components.catalog.price_apis`).

What a refresh does to `data/instances/<cloud>.csv`, per (instance type, GPU, region):
- a row whose price the source lists differently: the new price, with the source's URL and
  today's date as its provenance (a row keeps a source and a date, always);
- a row whose price is the same: confirmed, left as it is (its date says when it was read);
- an offer of a type the catalog has, in a region the catalog knows (regions.csv) but without
  a row: a row added, its sizes copied from the type's other rows;
- a row the source does not list: kept, and reported as not offered by the source.
Offers in zones (GCP lists zones) count for the zone's region; the cheapest zone wins.

What it does to `data/service_prices.csv`: a row a price API prices (`service_price_sources.csv`
maps it) takes the API's price, its query URL as source and today's date when the price
changed; a row no API prices, or for which the API gave no single price, is kept and reported.
"""

from __future__ import annotations

import csv
import datetime as dt
import difflib
import io
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path

from components.catalog import regions
from components.catalog.price_apis import Quote

INSTANCES = "instances"
SERVICES = "service_prices.csv"
SOURCES = "service_price_sources.csv"


@dataclass(frozen=True)
class Offer:
    """One on-demand offer a source lists: a machine type with its GPUs, where, at what price."""

    cloud: str
    instance_type: str
    gpu_name: str  # "" when the type has no GPU
    gpu_count: int
    location: str  # a region or a zone, as the source names it
    usd_per_hour: float
    source: str  # https URL of what the offer was read from


@dataclass(frozen=True)
class RowChange:
    """One row a refresh changes or adds, or leaves because its source gave no price."""

    file: str  # relative to the data folder: instances/aws.csv, service_prices.csv
    row: str  # the row's key: "g4dn.xlarge T4x1 us-east-1", "aws control-plane eks-standard"
    status: str  # changed | added | not-offered | unmatched | unmapped
    before_usd: float | None
    after_usd: float | None
    why: str = ""

    def as_dict(self) -> dict[str, object]:
        """The change as `catalog refresh --json` prints it."""
        return {
            "file": self.file,
            "row": self.row,
            "status": self.status,
            "before_usd": self.before_usd,
            "after_usd": self.after_usd,
            "why": self.why,
        }


@dataclass(frozen=True)
class Refresh:
    """What a refresh would write: each file's text before and after, and the row changes."""

    before: dict[str, str]
    after: dict[str, str]
    changes: tuple[RowChange, ...]
    confirmed: int

    @property
    def changed_files(self) -> list[str]:
        """The files whose text the refresh changes."""
        return [name for name in sorted(self.after) if self.after[name] != self.before[name]]

    def diff(self) -> str:
        """A unified diff of every file the refresh changes (empty when none)."""
        return "".join(
            "".join(
                difflib.unified_diff(
                    self.before[name].splitlines(keepends=True),
                    self.after[name].splitlines(keepends=True),
                    f"a/{name}",
                    f"b/{name}",
                )
            )
            for name in self.changed_files
        )


def _gpu_key(name: str) -> str:
    return re.sub(r"[^A-Z0-9]", "", name.upper())


def same_gpu(catalog_model: str, offered: str) -> bool:
    """Whether the source's GPU name is the catalog's model ("A100" offers "A100-80GB" when the
    instance type, already matched, pins the memory); no GPU matches no GPU."""
    ours, theirs = _gpu_key(catalog_model), _gpu_key(offered)
    if not ours or not theirs:
        return ours == theirs
    return ours.startswith(theirs) or theirs.startswith(ours)


def _region_of(cloud: str) -> dict[str, str]:
    """Every region and zone of a cloud the catalog knows, to its region."""
    known: dict[str, str] = {}
    for (c, name), region in regions().items():
        if c == cloud:
            known[name] = name
            known.update(dict.fromkeys(region.zones, name))
    return known


def _price(value: float) -> str:
    return repr(round(value, 6))


def _grouped(offers: Iterable[Offer], cloud: str) -> dict[tuple[str, int, str], list[Offer]]:
    """A cloud's offers by (type, GPU count, region), in regions the catalog knows."""
    region_of = _region_of(cloud)
    found: dict[tuple[str, int, str], list[Offer]] = {}
    for offer in offers:
        region = region_of.get(offer.location)
        if offer.cloud == cloud and region:
            found.setdefault((offer.instance_type, offer.gpu_count, region), []).append(offer)
    return found


def _match(
    found: dict[tuple[str, int, str], list[Offer]], row: dict[str, str], region: str
) -> Offer | None:
    """The cheapest offer for a catalog row's type, GPUs and region, if the source has one."""
    key = (row["instance_type"], int(row["gpu_count"]), region)
    offers = [o for o in found.get(key, []) if same_gpu(row["gpu_model"], o.gpu_name)]
    return min(offers, key=lambda o: o.usd_per_hour) if offers else None


def refresh_file(
    name: str, text: str, cloud: str, offers: Sequence[Offer], today: dt.date
) -> tuple[str, list[RowChange], int]:
    """One instance catalog file refreshed from a cloud's offers: its new text, the row
    changes, and how many rows the source confirmed."""
    columns, rows = _read(text)
    found = _grouped(offers, cloud)
    changes: list[RowChange] = []
    confirmed = 0

    def change(row: dict[str, str], status: str, before: float | None, after: float | None) -> None:
        gpus = f" {row['gpu_model']}x{row['gpu_count']}" if row["gpu_model"] else ""
        label = f"{row['instance_type']}{gpus} {row['region']}"
        why = "the source lists no on-demand offer" if status == "not-offered" else ""
        changes.append(RowChange(name, label, status, before, after, why))

    for row in rows:
        offer = _match(found, row, row["region"])
        before = float(row["usd_per_hour"])
        if offer is None:
            change(row, "not-offered", before, None)
        elif _price(offer.usd_per_hour) == _price(before):
            confirmed += 1
        else:
            row.update(usd_per_hour=_price(offer.usd_per_hour), source=offer.source)
            row["as_of"] = today.isoformat()
            change(row, "changed", before, offer.usd_per_hour)

    def kind(row: dict[str, str]) -> tuple[str, str, str]:
        return row["instance_type"], row["gpu_model"], row["gpu_count"]

    last = {kind(row): index for index, row in enumerate(rows)}
    out: list[dict[str, str]] = []
    for index, row in enumerate(rows):
        out.append(row)
        if last[kind(row)] != index:
            continue
        have = {r["region"] for r in rows if kind(r) == kind(row)}
        offered = {k[2] for k in found if k[:2] == (row["instance_type"], int(row["gpu_count"]))}
        for region in sorted(offered - have):
            offer = _match(found, row, region)
            if offer is None:
                continue
            added = {**row, "region": region, "usd_per_hour": _price(offer.usd_per_hour)}
            added.update(source=offer.source, as_of=today.isoformat())
            out.append(added)
            change(added, "added", None, offer.usd_per_hour)

    return _write(columns, out), changes, confirmed


def refresh_services(
    text: str, clouds: Sequence[str], quotes: Sequence[Quote], today: dt.date
) -> tuple[str, list[RowChange], int]:
    """`service_prices.csv` refreshed from the price APIs' quotes (rows of `clouds` whose
    region is `*`, the ones a source row maps): its new text, the changes, the confirmed."""
    columns, rows = _read(text)
    by_row = {(q.source.cloud, q.source.item, q.source.scope): q for q in quotes}
    changes: list[RowChange] = []
    confirmed = 0
    for row in rows:
        if row["cloud"] not in clouds:
            continue
        label = " ".join(row[k] for k in ("cloud", "item", "scope", "region"))
        quote = by_row.get((row["cloud"], row["item"], row["scope"]))
        before = float(row["usd"])
        if quote is None or row["region"] != "*":
            why = f"no public price API mapped in {SOURCES}"
            changes.append(RowChange(SERVICES, label, "unmapped", before, None, why))
        elif quote.usd is None:
            why = f"{quote.source.api}: {quote.why} at {quote.url}"
            changes.append(RowChange(SERVICES, label, "unmatched", before, None, why))
        elif _price(quote.usd) == _price(before):
            confirmed += 1
        else:
            row.update(usd=_price(quote.usd), source=quote.url, as_of=today.isoformat())
            changes.append(RowChange(SERVICES, label, "changed", before, quote.usd))
    return _write(columns, rows), changes, confirmed


def refresh(
    data: Path,
    clouds: Sequence[str],
    offers: Sequence[Offer],
    quotes: Sequence[Quote],
    today: dt.date,
) -> Refresh:
    """The instance catalogs and the service prices of `clouds` under `data` refreshed from
    gpuhunt's offers and the price APIs' quotes (nothing written)."""
    before: dict[str, str] = {}
    after: dict[str, str] = {}
    changes: list[RowChange] = []
    confirmed = 0
    for cloud in clouds:
        name = f"{INSTANCES}/{cloud}.csv"
        before[name] = (data / name).read_text(encoding="utf-8")
        after[name], found, same = refresh_file(name, before[name], cloud, offers, today)
        changes += found
        confirmed += same
    before[SERVICES] = (data / SERVICES).read_text(encoding="utf-8")
    after[SERVICES], found, same = refresh_services(before[SERVICES], clouds, quotes, today)
    return Refresh(before, after, tuple(changes + found), confirmed + same)


def _read(text: str) -> tuple[list[str], list[dict[str, str]]]:
    """A catalog CSV's columns and rows."""
    reader = csv.DictReader(io.StringIO(text))
    return list(reader.fieldnames or []), list(reader)


def _write(columns: list[str], rows: list[dict[str, str]]) -> str:
    """Rows as a catalog CSV, the columns in their order."""
    buffer = io.StringIO()
    writer = csv.DictWriter(buffer, fieldnames=columns, lineterminator="\n")
    writer.writeheader()
    writer.writerows(rows)
    return buffer.getvalue()
