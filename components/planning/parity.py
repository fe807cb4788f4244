"""Parity: are the stacks equivalent? Expected per-cloud differences are data with a reason;
any other difference is drift."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from components.planning.runner import Plan

DEPLOYMENT = "kubernetes:apps/v1:Deployment"

# Rows whose value depends on the cloud by design; within one cloud they must still agree.
PER_CLOUD: dict[str, str] = {
    "identity kind": (
        "each cloud has its own keyless workload identity: IRSA on EKS, Microsoft Entra "
        "workload identity on AKS, GKE workload identity"
    ),
    "model access": (
        "Triton reads s3:// and gs:// with workload identity; its as:// client takes managed "
        "identity only from the release marked in the catalog, before which an init container "
        "copies the repository (never a storage key)"
    ),
    "device plugin": (
        "GKE installs the NVIDIA device plugin on GPU nodes; EKS and AKS install the driver "
        "but not the plugin, so exitplan deploys it"
    ),
}


@dataclass(frozen=True)
class ParityRow:
    """One compared fact across stacks."""

    row: str
    values: dict[str, str]
    status: str  # "equal", "expected" or "drift"
    reason: str = ""

    def as_dict(self) -> dict[str, Any]:
        """The row for `--json`."""
        return {
            "row": self.row,
            "values": self.values,
            "status": self.status,
            "reason": self.reason,
        }


@dataclass(frozen=True)
class ParityReport:
    """The equivalence table of a set of stacks."""

    stacks: list[str]
    providers: dict[str, str]
    rows: list[ParityRow]

    @property
    def drift(self) -> list[ParityRow]:
        """Rows that differ without an expected reason."""
        return [r for r in self.rows if r.status == "drift"]

    def as_dict(self) -> dict[str, Any]:
        """The report for `--json`."""
        return {
            "stacks": self.stacks,
            "providers": self.providers,
            "ok": not self.drift,
            "rows": [r.as_dict() for r in self.rows],
            "drift": [r.row for r in self.drift],
        }


def facts(plan: Plan) -> dict[str, str]:
    """Every parity fact of one planned stack: the component's, plus ports and probes."""
    found = dict(plan.outputs.get("parity") or {})
    triton = next(iter(plan.of_type(DEPLOYMENT)), None)
    container = _triton_container(triton.inputs) if triton else {}
    found["ports"] = ", ".join(
        f"{p.get('name')}:{int(p.get('containerPort', 0))}" for p in container.get("ports", [])
    )
    found["probes"] = "; ".join(
        f"{kind} {_probe(container[f'{kind}Probe'])}"
        for kind in ("startup", "readiness", "liveness")
        if f"{kind}Probe" in container
    )
    return found


def _triton_container(deployment: dict[str, Any]) -> dict[str, Any]:
    containers = (
        deployment.get("spec", {}).get("template", {}).get("spec", {}).get("containers", [])
    )
    return next((c for c in containers if c.get("name") == "tritonserver"), {})


def _probe(probe: dict[str, Any]) -> str:
    http = probe.get("httpGet", {})
    period, failures = int(probe.get("periodSeconds", 0)), int(probe.get("failureThreshold", 0))
    return f"{http.get('path')} on {http.get('port')} every {period}s x{failures}"


def compare(plans: Sequence[Plan]) -> ParityReport:
    """Compare the plans' facts row by row."""
    stacks = [p.stack for p in plans]
    providers = {p.stack: str(p.outputs.get("provider", "")) for p in plans}
    per_stack = {p.stack: facts(p) for p in plans}
    row_names = list(dict.fromkeys(name for f in per_stack.values() for name in f))
    rows = []
    for name in row_names:
        values = {stack: per_stack[stack].get(name, "(missing)") for stack in stacks}
        rows.append(_judge(name, values, providers))
    return ParityReport(stacks=stacks, providers=providers, rows=rows)


def _judge(name: str, values: dict[str, str], providers: dict[str, str]) -> ParityRow:
    if len(set(values.values())) <= 1:
        return ParityRow(name, values, "equal")
    if name in PER_CLOUD:
        by_cloud: dict[str, set[str]] = {}
        for stack, value in values.items():
            by_cloud.setdefault(providers[stack], set()).add(value)
        split = sorted(cloud for cloud, seen in by_cloud.items() if len(seen) > 1)
        if not split:
            return ParityRow(name, values, "expected", PER_CLOUD[name])
        return ParityRow(name, values, "drift", f"stacks on {', '.join(split)} disagree")
    majority = max(set(values.values()), key=list(values.values()).count)
    odd = [stack for stack, value in values.items() if value != majority]
    return ParityRow(name, values, "drift", f"differs on {', '.join(odd)}")
