"""Parity: are the stacks equivalent? Expected per-cloud differences are data with a reason;
any other difference is drift."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from components.catalog import sandbox_triton
from components.catalog.clouds import facts as facts_of
from components.planning.runner import Plan
from components.spec import MODEL_CONFIG_ANNOTATION

DEPLOYMENT = "kubernetes:apps/v1:Deployment"
TRITON_ROW = "triton version"
UNVERIFIED_TRITON_GAP = "sandbox triton-version"


def _identity_reason(clouds: Sequence[str]) -> str:
    kinds = ", ".join(f"{facts_of(c).identity_kind} on {c}" for c in clouds)
    return f"each cloud has its own keyless workload identity: {kinds}"


def _model_access_reason(clouds: Sequence[str]) -> str:
    return (
        "Triton's store clients take workload identity only on some clouds and releases (the "
        "catalog's Triton releases and cloud gaps say which); elsewhere a model-sync sidecar "
        "copies the repository with workload identity, never with a storage key"
    )


def _device_plugin_reason(clouds: Sequence[str]) -> str:
    managed = [c for c in clouds if facts_of(c).device_plugin_managed]
    ours = [c for c in clouds if not facts_of(c).device_plugin_managed]
    return (
        f"the platform runs the NVIDIA device plugin on GPU nodes on {', '.join(managed) or 'none'}"
        f"; on {', '.join(ours) or 'none'} it installs the driver but not the plugin, so "
        "exitplan deploys it"
    )


# Rows whose value depends on the cloud by design (the reason is built from the clouds'
# facts); within one cloud they must still agree.
PER_CLOUD: dict[str, Callable[[Sequence[str]], str]] = {
    "identity kind": _identity_reason,
    "model access": _model_access_reason,
    "device plugin": _device_plugin_reason,
}


# Rows an edge deployment may differ in: an edge zone offers the machines it offers.
EDGE_EXPECTED: dict[str, str] = {
    "GPU model": "an edge zone offers its own machine types; a zone without GPUs serves on CPU",
    "GPU memory (GiB)": "an edge zone offers its own machine types",
    "max GPUs": "edge capacity is sized for the zone, not the region",
    "max replicas": "an edge's HPA stops at the Triton pods its nodes hold",
    "serving": "a zone without GPUs serves on CPU (Triton's ONNX Runtime CPU instance kind)",
    "identity kind": "edge nodes join or form their own cluster with that platform's identity",
    "model access": "edge clusters read the models as their platform allows",
    "device plugin": "edge platforms differ in who runs the NVIDIA device plugin",
    "encryption": "edge platforms encrypt secrets with their own keys",
    "public exposure": "edge clusters are reached through the carrier or site network",
    "Kubernetes minor": "an edge platform runs its own release (Distributed Cloud connected "
    "reports its product version, not a Kubernetes minor)",
}
# Rows that describe a stack rather than a property every stack must share.
INFO_ROWS = ("role", "standby level", "standby GPU", "estimated RTO (s)", "model replication")
# Rows a standby that names its own GPU (`exitplan:standby.gpu`) may differ in.
OWN_GPU_EXPECTED = {
    "GPU model": "a standby names its own GPU where its cloud does not offer the service's",
    "GPU memory (GiB)": "a standby names its own GPU where its cloud does not offer the service's",
}


@dataclass(frozen=True)
class ParityRow:
    """One compared fact across stacks."""

    row: str
    values: dict[str, str]
    status: str  # "equal", "expected", "info" or "drift"
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
    gaps: dict[str, str]

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
            "gaps": self.gaps,
        }


def facts(plan: Plan) -> dict[str, str]:
    """Every parity fact of one planned stack: the component's, plus ports and probes."""
    outputs = plan.outputs
    rto = outputs.get("rto_estimate") or {}
    found = {
        "role": str(outputs.get("role", "-")),
        "standby level": str(outputs.get("standby_level", "-")),
        "standby GPU": str(outputs.get("standby_gpu") or "-"),
        "estimated RTO (s)": str(rto.get("total_s", "-")),
        "model replication": str(outputs.get("model_replication", "-")),
        **(outputs.get("parity") or {}),
    }
    triton = next(iter(plan.of_type(DEPLOYMENT)), None)
    container = _triton_container(triton.inputs) if triton else {}
    annotations = (triton.inputs if triton else {}).get("metadata", {}).get("annotations", {})
    found["model config"] = str(annotations.get(MODEL_CONFIG_ANNOTATION, "(none)"))
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
    period, failures = int(probe.get("periodSeconds", 0)), int(probe.get("failureThreshold", 0))
    http = probe.get("httpGet")
    if http:
        check = f"{http.get('path')} on {http.get('port')}"
    else:  # an exec probe: the URLs it fetches
        urls = [a for a in probe.get("exec", {}).get("command", []) if str(a).startswith("http")]
        check = "exec " + " ".join(urls)
    return f"{check} every {period}s x{failures}"


def compare(plans: Sequence[Plan], gaps: dict[str, str] | None = None) -> ParityReport:
    """Compare the plans' facts row by row; `gaps` are the per-cloud gaps that concern them."""
    stacks = [p.stack for p in plans]
    providers = {p.stack: str(p.outputs.get("provider", "")) for p in plans}
    per_stack = {p.stack: facts(p) for p in plans}
    edge = {stack for stack, f in per_stack.items() if f["role"] == "edge"}
    own_gpu = {stack for stack, f in per_stack.items() if f["standby GPU"] != "-"}
    row_names = list(dict.fromkeys(name for f in per_stack.values() for name in f))
    rows = []
    for name in row_names:
        values = {stack: per_stack[stack].get(name, "(missing)") for stack in stacks}
        rows.append(_judge(name, values, providers, edge, own_gpu))
    versions = {stack: f.get(TRITON_ROW, "") for stack, f in per_stack.items()}
    known = {**(gaps or {}), **unverified_triton(versions)}
    return ParityReport(stacks=stacks, providers=providers, rows=rows, gaps=known)


def unverified_triton(versions: dict[str, str]) -> dict[str, str]:
    """The gap of stacks pinning another Triton than the one the sandbox runs (and so the
    drills verify); empty when every stack runs the sandbox's."""
    sandbox = sandbox_triton()
    others = {s: v for s, v in versions.items() if v != sandbox.triton_version}
    if not others:
        return {}
    pinned = ", ".join(f"{stack} runs {version}" for stack, version in others.items())
    return {
        UNVERIFIED_TRITON_GAP: (
            f"{pinned}; the sandbox verifies Triton {sandbox.triton_version} only (the "
            f"tritonserver {sandbox.package} {sandbox.package_version} embeds), so drills do "
            "not exercise that release"
        )
    }


def _judge(
    name: str,
    values: dict[str, str],
    providers: dict[str, str],
    edge: set[str],
    own_gpu: set[str],
) -> ParityRow:
    if name in INFO_ROWS:
        return ParityRow(name, values, "info")
    if len(set(values.values())) <= 1:
        return ParityRow(name, values, "equal")
    # Edge stacks may differ in the EDGE_EXPECTED rows; the regional stacks must still agree.
    excused = edge if name in EDGE_EXPECTED else set()
    reasons = [EDGE_EXPECTED[name]] if excused & set(values) else []
    if name in OWN_GPU_EXPECTED and own_gpu & set(values):
        excused = excused | own_gpu
        reasons.append(OWN_GPU_EXPECTED[name])
    compared = {s: v for s, v in values.items() if s not in excused}
    if name in PER_CLOUD:
        by_cloud: dict[str, set[str]] = {}
        for stack, value in compared.items():
            by_cloud.setdefault(providers[stack], set()).add(value)
        split = sorted(cloud for cloud, seen in by_cloud.items() if len(seen) > 1)
        if split:
            return ParityRow(name, values, "drift", f"stacks on {', '.join(split)} disagree")
        if len(set(compared.values())) > 1:
            reasons.append(PER_CLOUD[name](sorted(by_cloud)))
        return ParityRow(name, values, "expected", "; ".join(reasons))
    if len(set(compared.values())) <= 1:
        return ParityRow(name, values, "expected", "; ".join(reasons))
    # The most common value; a tie goes to the first stack's (a set's order varies by run).
    majority = max(dict.fromkeys(compared.values()), key=list(compared.values()).count)
    odd = [stack for stack, value in compared.items() if value != majority]
    return ParityRow(name, values, "drift", f"differs on {', '.join(odd)}")
