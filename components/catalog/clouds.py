"""What a cloud *is*, read from catalog data without any cloud SDK.

`data/clouds.csv` holds one fact per row (identity kind, store URI template, load-balancer
address kind, DNS health-check intervals, ...), `data/cloud_gaps.csv` the features a cloud
cannot provide with the reason, and `data/triton_wire.csv` Triton's ports and readiness path.
Every row carries a source and a date. Stack reading, the RTO estimate, drills, chaos reports
and packaging read facts here; only the components import a cloud's builders.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from functools import cache
from typing import Literal, cast

from components.catalog import Provenance, _bool, _parse
from components.errors import CatalogDataError, UnsupportedFeatureError
from components.providers.registry import CLOUDS
from components.spec import ServiceSpec

AddressKind = Literal["hostname", "ip"]
FACTS = (
    "display_name",
    "identity_kind",
    "device_plugin_managed",
    "edge_joins_service_cluster",
    "required_config",
    "store_uri",
    "lb_address",
    "dns_health_intervals",
    "pulumi_package",
)
# Features a spec or router may ask a cloud for; a cloud lacking one lists it as a gap.
FEATURES = (
    "spot-gpu-nodes",
    "gpu-scale-to-zero",
    "dns-health-checks",
    "dns-failover",
    # Triton reads the store itself with workload identity (else a model-sync sidecar copies).
    "triton-native-store",
    # An edge offering exitplan deploys to (Wavelength, Distributed Cloud, Extended Zones).
    "edge-zones",
    # The live target revokes (and restores) a stack's workload identity's store access.
    "live-credential-revocation",
    # An edge deployment has a Kubernetes API of its own whose public access a list restricts.
    "edge-api-allowlist",
    # An edge deployment's nodes scale between min_nodes and max_nodes.
    "edge-autoscaling",
    # An edge deployment's endpoint is a stable address that follows its nodes, is routed to
    # and health-checked.
    "edge-stable-endpoint",
)


@dataclass(frozen=True)
class Gap:
    """A feature a cloud cannot provide, why, and where that is documented."""

    feature: str
    reason: str
    provenance: Provenance


@dataclass(frozen=True)
class CloudFacts:
    """Everything exitplan knows about a cloud that is not a resource it builds."""

    name: str
    display_name: str
    identity_kind: str
    device_plugin_managed: bool
    edge_joins_service_cluster: bool
    required_config: tuple[str, ...]
    store_uri_template: str
    lb_address: AddressKind
    # The intervals (s) its DNS health checks may run at; () where it has none for our use.
    dns_health_intervals: tuple[int, ...]
    # The Pulumi package its resource type tokens start with (`aws:`, `azure-native:`).
    pulumi_package: str
    gaps: Mapping[str, Gap]
    sources: Mapping[str, Provenance]

    @property
    def store_scheme(self) -> str:
        """`s3`, `as`, `gs`, ...: the scheme of this cloud's model store URIs."""
        return self.store_uri_template.split("://", 1)[0]

    def store_uri(self, repository: str) -> str:
        """The model store URI of a repository (bucket) on this cloud."""
        return self.store_uri_template.format(
            repository=repository, account=storage_account_name(repository)
        )

    def lacks(self, feature: str) -> str | None:
        """The reason this cloud lacks `feature`, or None when it has it."""
        gap = self.gaps.get(feature)
        return gap.reason if gap else None

    @property
    def dns_health_checks(self) -> bool:
        """Whether its DNS can health-check a public endpoint in another cloud."""
        return "dns-health-checks" not in self.gaps


def storage_account_name(repository: str) -> str:
    """An account-scoped store's account (Azure): 3-24 lowercase letters and digits."""
    return re.sub(r"[^a-z0-9]", "", repository.lower())[:24]


def clouds() -> tuple[str, ...]:
    """Every registered cloud, in registry order."""
    return tuple(CLOUDS)


@cache
def _fact_rows() -> dict[str, dict[str, tuple[str, Provenance]]]:
    rows = _parse("clouds.csv", lambda r, p: (r["cloud"], r["fact"], r["value"], p))
    table: dict[str, dict[str, tuple[str, Provenance]]] = {}
    for cloud, fact, value, provenance in rows:
        if fact not in FACTS:
            raise CatalogDataError(f"clouds.csv: unknown fact {fact!r} for {cloud}")
        table.setdefault(cloud, {})[fact] = (value.strip(), provenance)
    return table


@cache
def _gap_rows() -> dict[str, dict[str, Gap]]:
    gaps: dict[str, dict[str, Gap]] = {}
    for cloud, gap in _parse("cloud_gaps.csv", lambda r, p: (r["cloud"], _gap(r, p))):
        gaps.setdefault(cloud, {})[gap.feature] = gap
    return gaps


def _gap(row: dict[str, str], provenance: Provenance) -> Gap:
    feature = row["feature"]
    if not (feature in FEATURES or feature.startswith("replication-from-")):
        raise ValueError(f"unknown feature {feature!r}")
    return Gap(feature, row["reason"], provenance)


@cache
def facts(name: str) -> CloudFacts:
    """The facts of a registered cloud (a missing row is a defect in the shipped data)."""
    if name not in CLOUDS:
        raise CatalogDataError(f"{name!r} is not a registered cloud: {', '.join(CLOUDS)}")
    rows = _fact_rows().get(name, {})
    missing = [f for f in FACTS if f not in rows]
    if missing:
        raise CatalogDataError(f"clouds.csv has no {', '.join(missing)} row for {name}")
    value = {fact: rows[fact][0] for fact in FACTS}
    if value["lb_address"] not in ("hostname", "ip"):
        raise CatalogDataError(f"clouds.csv: lb_address of {name} must be hostname or ip")
    return CloudFacts(
        name=name,
        display_name=value["display_name"],
        identity_kind=value["identity_kind"],
        device_plugin_managed=_bool(value["device_plugin_managed"]),
        edge_joins_service_cluster=_bool(value["edge_joins_service_cluster"]),
        required_config=tuple(value["required_config"].split()),
        store_uri_template=value["store_uri"],
        lb_address=cast(AddressKind, value["lb_address"]),
        dns_health_intervals=tuple(int(v) for v in value["dns_health_intervals"].split()),
        pulumi_package=value["pulumi_package"],
        gaps=_gap_rows().get(name, {}),
        sources={fact: rows[fact][1] for fact in FACTS},
    )


def check_features(name: str, features: set[str]) -> None:
    """Raise one `UnsupportedFeatureError` listing every feature `name` lacks, with reasons."""
    cloud = facts(name)
    gaps = {f: cloud.gaps[f].reason for f in sorted(features) if f in cloud.gaps}
    if gaps:
        listed = "; ".join(f"{feature}: {reason}" for feature, reason in gaps.items())
        raise UnsupportedFeatureError(
            f"{name} cannot provide what this stack asks for: {listed}",
            fix="change the stack config or use another cloud for this part",
        )


def cloud_of_token(token: str) -> str | None:
    """The registered cloud whose Pulumi package a resource type token belongs to."""
    package = token.split(":", 1)[0]
    return next((n for n in CLOUDS if facts(n).pulumi_package == package), None)


# The node label every cloud's GPU pool carries (its GPU model) and Triton's pods select: set
# by the builders (providers/base re-exports it), read by the policy pack's driver rules.
GPU_NODE_LABEL = "exitplan.io/gpu-model"
# A copy step (init container) that authenticates with the pod's own service-account token
# declares it on the pod template, so the policy pack can check that the token is mounted
# (the OCI CLI's oke_workload_identity reads /var/run/secrets/kubernetes.io/serviceaccount:
# OCI Python SDK "Signing", review J2).
FETCH_AUTH_ANNOTATION = "exitplan.io/fetch-auth"
SERVICE_ACCOUNT_TOKEN_AUTH = "service-account-token"


@dataclass(frozen=True)
class TritonWire:
    """Triton's ports and readiness path (KServe v2), the same on every cloud."""

    http_port: int
    grpc_port: int
    metrics_port: int
    ready_path: str


@cache
def triton_wire() -> TritonWire:
    """Triton's ports and readiness path from `data/triton_wire.csv`."""
    rows = dict(_parse("triton_wire.csv", lambda r, p: (r["fact"], r["value"])))
    try:
        return TritonWire(
            http_port=int(rows["http_port"]),
            grpc_port=int(rows["grpc_port"]),
            metrics_port=int(rows["metrics_port"]),
            ready_path=rows["ready_path"],
        )
    except (KeyError, ValueError) as exc:
        raise CatalogDataError(f"triton_wire.csv: missing or bad fact ({exc})") from exc


def required_features(spec: ServiceSpec) -> set[str]:
    """The optional features a spec asks its cloud for (gap names of `cloud_gaps.csv`)."""
    features = set()
    if spec.gpu.capacity_type == "spot":
        features.add("spot-gpu-nodes")
    if spec.gpu.min_nodes == 0:
        features.add("gpu-scale-to-zero")
    return features


def check_spec(spec: ServiceSpec) -> None:
    """Refuse a spec its cloud cannot serve: one error listing every gap with its reason."""
    check_features(spec.provider, required_features(spec))


def store_uri(spec: ServiceSpec) -> str:
    """The spec's model store URI (`s3://…`, `as://…`, `gs://…`), as Triton and
    `exitplan package --publish` use it."""
    return facts(spec.provider).store_uri(spec.model_repository)
