"""`exitplan alerts check` and `exitplan alerts snapshot`: catalog price changes, end-of-support
dates and scorecard thresholds as Alertmanager webhook alerts."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer

from components.catalog import DATA
from runbooks import render
from runbooks.commands.options import (
    JsonOption,
    ProjectOption,
    folder_option,
    http_url,
    print_json,
    project_of,
)

if TYPE_CHECKING:
    from components.stack_config import Stack

alerts_app = typer.Typer(help="Alert on price changes and ending support.", no_args_is_help=True)

CatalogOption = Annotated[
    Path,
    typer.Option(
        "--catalog",
        help="Catalog data folder to read (default: the shipped one).",
        file_okay=False,
        show_default=False,
    ),
]


def snapshot_path(root: Path) -> Path:
    """Where the last price snapshot lives in a project."""
    return root / ".exitplan" / "alerts" / "snapshot.json"


# Edge zone kinds whose cluster runs the platform's own release, not its cloud's managed
# Kubernetes minor (Distributed Cloud connected: parity reports the release the cluster runs).
OWN_RELEASE_KINDS = ("gdc-connected",)


def managed(stack: Stack) -> bool:
    """Whether the stack's cluster follows its cloud's managed Kubernetes calendar: not an edge
    stack in a zone whose cluster runs its platform's own release (review U13: a Distributed
    Cloud connected rack was alerted by GKE's calendar; the catalog holds no calendar of its
    releases yet)."""
    from components.catalog import edge_types

    if stack.edge is None:
        return True
    kinds = {
        t.kind for t in edge_types() if (t.cloud, t.zone) == (stack.edge.provider, stack.edge.zone)
    }
    return not kinds & set(OWN_RELEASE_KINDS)


@alerts_app.command("snapshot")
def snapshot(
    catalog: CatalogOption = DATA, project: ProjectOption = None, as_json: JsonOption = False
) -> None:
    """Record the catalog's prices as the baseline `alerts check` compares with."""
    from runbooks.alerts import write_snapshot

    path = snapshot_path(project_of(project).root)
    data = write_snapshot(path, catalog)
    if as_json:
        print_json("alerts.snapshot", {"snapshot": str(path), "taken": data["taken"],
                                       "prices": len(data["prices"])})  # fmt: skip
    else:
        render.out.print(f"wrote {path} ({len(data['prices'])} prices, {data['taken']})")


@alerts_app.command("check")
def check(
    webhook: Annotated[
        str | None,
        typer.Option(
            "--webhook", help="POST the Alertmanager payload to this URL.", show_default=False
        ),
    ] = None,
    catalog: CatalogOption = DATA,
    journals: Annotated[
        Path | None,
        folder_option("--journals", "Folder of drills/ and chaos/ journals (default: .exitplan)."),
    ] = None,
    max_error_rate: Annotated[
        float, typer.Option("--max-error-rate", help="Alert above this journal error rate.")
    ] = 0.01,
    project: ProjectOption = None,
    as_json: JsonOption = False,
) -> None:
    """Fire on catalog prices changed since the snapshot (the first check writes it), Triton,
    GPU-type and each stack's Kubernetes end of support within 90 days, and stacks whose
    journal error rate exceeds --max-error-rate. Prints (or POSTs to --webhook) the Prometheus
    Alertmanager webhook payload; exits 1 while any alert fires."""
    import json

    from runbooks.alerts import (
        error_rate_alerts,
        kubernetes_alerts,
        post,
        price_alerts,
        support_alerts,
        webhook_payload,
        write_snapshot,
    )
    from runbooks.reports.journal import now_iso
    from runbooks.reports.scorecard import StackCard, load_journals, measure

    http_url(webhook, "--webhook")
    if not 0 <= max_error_rate <= 1:
        raise typer.BadParameter(
            f"{max_error_rate:g} is not a share of requests in 0..1", param_hint="--max-error-rate"
        )
    proj = project_of(project)
    path = snapshot_path(proj.root)
    written = not path.exists()
    alerts = [] if written else price_alerts(json.loads(path.read_text()), catalog)
    if written:
        write_snapshot(path, catalog)
    stacks = [proj.stack(name) for name in proj.stack_names()]
    alerts += support_alerts(catalog)
    alerts += kubernetes_alerts(
        {s.name: (s.spec.provider, s.spec.kubernetes_version) for s in stacks if managed(s)}
    )
    cards = {s.name: StackCard(s.name, s.spec.provider) for s in stacks}
    measure(cards, load_journals(journals or proj.root / ".exitplan"))
    rates = {name: c.metrics.get("error_rate") for name, c in cards.items()}
    alerts += error_rate_alerts(rates, max_error_rate)
    payload = webhook_payload(alerts, now_iso())
    status = post(webhook, payload) if webhook else None
    if as_json:
        data: dict[str, Any] = {"firing": len(alerts), "snapshot": str(path),
                                "snapshot_written": written, "webhook": webhook,
                                "webhook_status": status, "payload": payload}  # fmt: skip
        print_json("alerts.check", data)
    else:
        for alert in alerts:
            render.out.print(f"[{alert.severity}] {alert.name}: {alert.summary}", soft_wrap=True)
        note = " (snapshot written: prices are compared from the next check)" if written else ""
        render.out.print(f"{len(alerts)} alerts firing{note}")
        if webhook:
            render.out.print(f"posted to {webhook}: HTTP {status}")
    if alerts:
        raise typer.Exit(1)
