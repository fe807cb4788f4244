"""`exitplan alerts`: a catalog copy with one changed price and one support date near its end,
received as an Alertmanager webhook payload by a local HTTP server."""

from __future__ import annotations

import csv
import datetime as dt
import json
import shutil
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, HTTPServer
from pathlib import Path
from typing import Any, ClassVar

import pytest
import typer
from typer.testing import CliRunner

from components.catalog import DATA, today
from runbooks.alerts import Alert, error_rate_alerts, webhook_payload
from runbooks.commands.alerts import alerts_app
from tests.conftest import copied_project


class Receiver(BaseHTTPRequestHandler):
    """Keeps every JSON body POSTed to it."""

    received: ClassVar[list[dict[str, Any]]] = []

    def do_POST(self) -> None:
        body = self.rfile.read(int(self.headers["Content-Length"]))
        Receiver.received.append(json.loads(body))
        self.send_response(200)
        self.end_headers()

    def log_message(self, *args: Any) -> None:
        """Quiet."""


@pytest.fixture
def receiver() -> Iterator[str]:
    Receiver.received = []
    server = HTTPServer(("127.0.0.1", 0), Receiver)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_port}/alerts"
    server.shutdown()
    server.server_close()


def rewrite(path: Path, change: Any) -> None:
    """Rewrite a CSV, `change(row)` applied to every row."""
    with path.open(newline="", encoding="utf-8") as handle:
        reader = csv.DictReader(handle)
        fields, rows = reader.fieldnames or [], [change(dict(r)) for r in reader]
    with path.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.DictWriter(handle, fields)
        writer.writeheader()
        writer.writerows(rows)


def cli() -> typer.Typer:
    app = typer.Typer()
    app.add_typer(alerts_app, name="alerts")
    app.command("x")(lambda: None)
    return app


def test_changed_price_and_ending_support_reach_the_webhook(tmp_path: Path, receiver: str) -> None:
    project = tmp_path / "project"
    project.mkdir()
    copied_project(project)
    catalog = tmp_path / "catalog"
    shutil.copytree(DATA, catalog)
    common = ["--catalog", str(catalog), "--project", str(project)]
    snap = CliRunner().invoke(cli(), ["alerts", "snapshot", *common, "--json"])
    assert snap.exit_code == 0, snap.output

    def price(row: dict[str, str]) -> dict[str, str]:
        if (row["instance_type"], row["region"]) == ("p4d.24xlarge", "us-east-1"):
            row["usd_per_hour"] = f"{float(row['usd_per_hour']) * 1.1:.6f}"
        return row

    def ending(row: dict[str, str]) -> dict[str, str]:
        if row["subject"] == "Azure NCv3 (V100)":
            row["end_of_support"] = (today() + dt.timedelta(days=30)).isoformat()
        return row

    rewrite(catalog / "instances" / "aws.csv", price)
    rewrite(catalog / "support_dates.csv", ending)

    result = CliRunner().invoke(
        cli(), ["alerts", "check", *common, "--webhook", receiver, "--json"]
    )
    assert result.exit_code == 1, result.output  # alerts fire
    [payload] = Receiver.received
    assert payload["version"] == "4" and payload["status"] == "firing"
    assert json.loads(result.stdout)["payload"] == payload
    priced = [a for a in payload["alerts"] if a["labels"]["alertname"] == "CatalogPriceChanged"]
    assert len(priced) == 1
    assert priced[0]["labels"] | {"severity": "warning"} == {
        "alertname": "CatalogPriceChanged", "severity": "warning", "cloud": "aws",
        "instance_type": "p4d.24xlarge", "region": "us-east-1", "pricing_model": "on-demand",
    }  # fmt: skip
    assert "(+10.0%)" in priced[0]["annotations"]["summary"]
    ending_alerts = [
        a for a in payload["alerts"] if a["labels"].get("subject") == "Azure NCv3 (V100)"
    ]
    assert ending_alerts and "ends in 30 days" in ending_alerts[0]["annotations"]["summary"]
    for alert in payload["alerts"]:
        assert alert["status"] == "firing" and alert["endsAt"] == "0001-01-01T00:00:00Z"
        assert dt.datetime.fromisoformat(alert["startsAt"]) and alert["annotations"]["summary"]


def test_first_check_writes_the_snapshot_and_an_unchanged_catalog_is_quiet(tmp_path: Path) -> None:
    project = tmp_path / "project"
    project.mkdir()
    copied_project(project)
    args = ["alerts", "check", "--project", str(project), "--json"]
    first = json.loads(CliRunner().invoke(cli(), args).stdout)
    assert first["snapshot_written"] is True
    assert (project / ".exitplan" / "alerts" / "snapshot.json").exists()
    second = json.loads(CliRunner().invoke(cli(), args).stdout)
    assert second["snapshot_written"] is False
    names = {a["labels"]["alertname"] for a in second["payload"]["alerts"]}
    assert "CatalogPriceChanged" not in names


def test_error_rate_threshold_and_an_empty_payload() -> None:
    fired = error_rate_alerts({"a": 0.02, "b": 0.001, "c": None}, 0.01)
    assert [a.labels["stack"] for a in fired] == ["a"]
    assert webhook_payload([], "2026-11-30T00:00:00Z")["status"] == "resolved"
    one = webhook_payload([Alert("X", "warning", {}, "s", "d")], "t")
    assert one["commonLabels"] == {"alertname": "X"} and len(one["alerts"][0]["fingerprint"]) == 16


def test_an_unreachable_webhook_names_the_option(tmp_path: Path) -> None:
    project = tmp_path / "project"
    project.mkdir()
    copied_project(project)
    args = ["alerts", "check", "--project", str(project), "--webhook", "http://127.0.0.1:9/x"]
    result = CliRunner().invoke(cli(), args)
    assert getattr(result.exception, "field", None) == "--webhook"
