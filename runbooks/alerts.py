"""`exitplan alerts`: what changed or is about to end, as Prometheus Alertmanager webhook alerts.

Sources of alerts:
- catalog prices that differ from the last snapshot (`.exitplan/alerts/snapshot.json`): every
  on-demand row of `instances/<cloud>.csv` and every rate or discount of `pricing_models.csv`;
- end-of-support dates within `WARN_DAYS` of `components.catalog.today()`: Triton (NVIDIA AI
  Enterprise branches) and GPU types from `support_dates.csv`, and each stack's Kubernetes minor
  on its provider's calendar (`components.catalog.kubernetes.support`);
- scorecard thresholds: a stack whose error rate in the journals exceeds the limit.

The payload follows Alertmanager's webhook (version "4": status, receiver, groupLabels,
commonLabels, commonAnnotations, externalURL, alerts[] with status, labels, annotations,
startsAt, endsAt, generatorURL, fingerprint).
"""

from __future__ import annotations

import csv
import datetime as dt
import hashlib
import json
import urllib.error
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from components.catalog import DATA, today
from components.errors import InputError

WARN_DAYS = 90
ZERO_TIME = "0001-01-01T00:00:00Z"  # Alertmanager's endsAt of a firing alert


@dataclass(frozen=True)
class Alert:
    """One firing alert."""

    name: str
    severity: str
    labels: dict[str, str]
    summary: str
    description: str
    source: str = ""

    def payload(self, starts_at: str) -> dict[str, Any]:
        """The alert as one entry of the webhook's `alerts`."""
        labels = {"alertname": self.name, "severity": self.severity, **self.labels}
        key = json.dumps(labels, sort_keys=True).encode()
        return {
            "status": "firing",
            "labels": labels,
            "annotations": {
                "summary": self.summary,
                "description": self.description,
                "source": self.source,
            },
            "startsAt": starts_at,
            "endsAt": ZERO_TIME,
            "generatorURL": "",
            "fingerprint": hashlib.sha256(key).hexdigest()[:16],
        }


@dataclass
class Check:
    """What one check found: the alerts, and whether it wrote the snapshot."""

    alerts: list[Alert] = field(default_factory=list)
    snapshot_written: bool = False


def prices(catalog: Path = DATA) -> dict[str, float]:
    """Every price of a catalog folder by key: `cloud/type/region/on-demand` ($/h) and
    `cloud/scope/region/model` ($/h or % off) from pricing_models.csv."""
    found: dict[str, float] = {}
    for path in sorted((catalog / "instances").glob("*.csv")):
        with path.open(newline="", encoding="utf-8") as handle:
            for r in csv.DictReader(handle):
                found[f"{path.stem}/{r['instance_type']}/{r['region']}/on-demand"] = float(
                    r["usd_per_hour"]
                )
    models = catalog / "pricing_models.csv"
    if models.exists():
        with models.open(newline="", encoding="utf-8") as handle:
            for r in csv.DictReader(handle):
                value = r["usd_per_hour"] or r["discount_pct"]
                unit = "usd_per_hour" if r["usd_per_hour"] else "discount_pct"
                found[f"{r['cloud']}/{r['scope']}/{r['region']}/{r['model']}/{unit}"] = float(value)
    return found


def write_snapshot(path: Path, catalog: Path = DATA) -> dict[str, Any]:
    """Record the catalog's prices now (atomically)."""
    from runbooks.reports.journal import write_atomic

    data = {"taken": today().isoformat(), "catalog": str(catalog), "prices": prices(catalog)}
    write_atomic(path, data)
    return data


def price_alerts(snapshot: dict[str, Any], catalog: Path = DATA) -> list[Alert]:
    """A `CatalogPriceChanged` per price that differs from (or is new since) the snapshot."""
    old: dict[str, float] = snapshot.get("prices") or {}
    alerts = []
    for key, now in prices(catalog).items():
        before = old.get(key)
        if before == now:
            continue
        cloud, scope, region, model, *_ = key.split("/")
        change = f"{(now / before - 1) * 100:+.1f}%" if before else "new"
        alerts.append(Alert(
            "CatalogPriceChanged", "warning",
            {"cloud": cloud, "instance_type": scope, "region": region, "pricing_model": model},
            f"{cloud} {scope} {region} {model}: {before} -> {now} ({change})",
            f"the catalog price changed since the snapshot of {snapshot.get('taken')}; rerun "
            "`exitplan cost` and `exitplan alerts snapshot` once reviewed",
        ))  # fmt: skip
    return alerts


def support_alerts(catalog: Path = DATA, on: dt.date | None = None) -> list[Alert]:
    """A `SupportEnding` per Triton branch or GPU type ending within `WARN_DAYS` (or ended in
    the last `WARN_DAYS`)."""
    day = on or today()
    path = catalog / "support_dates.csv"
    if not path.exists():
        return []
    alerts = []
    with path.open(newline="", encoding="utf-8") as handle:
        for r in csv.DictReader(handle):
            left = (dt.date.fromisoformat(r["end_of_support"]) - day).days
            if -WARN_DAYS <= left <= WARN_DAYS:
                alerts.append(_ending(r["kind"], r["subject"], r["end_of_support"], left,
                                      f"{r['note']} ({r['basis']})", r["source"]))  # fmt: skip
    return alerts


def _ending(kind: str, subject: str, end: str, left: int, note: str, source: str) -> Alert:
    when = f"ended {-left} days ago" if left < 0 else f"ends in {left} days"
    return Alert("SupportEnding", "critical" if left < 0 else "warning",
                 {"kind": kind, "subject": subject, "end_of_support": end},
                 f"{kind} {subject}: support {when} ({end})", note, source)  # fmt: skip


def kubernetes_alerts(
    versions: dict[str, tuple[str, str]], on: dt.date | None = None
) -> list[Alert]:
    """A `SupportEnding` per stack whose Kubernetes minor leaves standard support on its
    provider within `WARN_DAYS`; `versions` maps stack -> (provider, minor)."""
    from components.catalog.kubernetes import support

    day = on or today()
    alerts = []
    for stack, (provider, minor) in sorted(versions.items()):
        row = support(provider, minor)
        left = row.days_left(day)
        if left <= WARN_DAYS:
            alert = _ending("kubernetes", f"{provider} {minor}", row.end_of_standard.isoformat(),
                            left, f"stack {stack} runs it", row.source)  # fmt: skip
            # the stack first: two stacks on one minor read as one alert twice (review U13)
            alerts.append(Alert(alert.name, alert.severity, {**alert.labels, "stack": stack},
                                f"{stack}: {alert.summary}", alert.description,
                                alert.source))  # fmt: skip
    return alerts


def error_rate_alerts(error_rates: dict[str, float | None], limit: float) -> list[Alert]:
    """An `ErrorRateHigh` per stack whose journal error rate is above `limit`."""
    return [
        Alert("ErrorRateHigh", "warning", {"stack": stack},
              f"{stack}: error rate {rate:.2%} above {limit:.2%}",
              "measured over the phases it served alone in the drill journals (scorecard)")
        for stack, rate in sorted(error_rates.items()) if rate is not None and rate > limit
    ]  # fmt: skip


def webhook_payload(alerts: list[Alert], starts_at: str) -> dict[str, Any]:
    """The Alertmanager webhook body (version 4) for the firing alerts."""
    common = {"alertname": alerts[0].name} if len({a.name for a in alerts}) == 1 else {}
    return {
        "version": "4",
        "groupKey": '{}:{receiver="exitplan"}',
        "truncatedAlerts": 0,
        "status": "firing" if alerts else "resolved",
        "receiver": "exitplan",
        "groupLabels": {},
        "commonLabels": common,
        "commonAnnotations": {},
        "externalURL": "",
        "alerts": [a.payload(starts_at) for a in alerts],
    }


def post(url: str, payload: dict[str, Any], timeout_s: float = 10.0) -> int:
    """POST the payload as JSON; the HTTP status, or an `InputError` naming --webhook."""
    request = urllib.request.Request(
        url, data=json.dumps(payload).encode(), method="POST",
        headers={"Content-Type": "application/json"},
    )  # fmt: skip
    try:
        with urllib.request.urlopen(request, timeout=timeout_s) as response:
            return int(response.status)
    except (urllib.error.URLError, ValueError, OSError) as exc:
        raise InputError(
            f"cannot POST the alerts to {url}: {exc}",
            field="--webhook",
            fix="give an http(s) URL an Alertmanager-style receiver listens on",
        ) from None
