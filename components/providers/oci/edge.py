"""OCI has no edge offering exitplan deploys to: an edge stack on OCI is refused with the
catalog gap's reason (`edge-zones` in cloud_gaps.csv)."""

from __future__ import annotations

from typing import Any

import pulumi

from components.catalog.clouds import check_features
from components.catalog.resolve import EdgePlan
from components.providers.base import EdgeCluster
from components.spec import EdgeSpec, ServiceSpec


def build_edge(
    name: str,
    spec: ServiceSpec,
    edge: EdgeSpec,
    plan: EdgePlan,
    attachment: pulumi.Output[dict[str, Any]],
    service_kubeconfig: pulumi.Output[str],
    parent: pulumi.Resource,
) -> EdgeCluster:
    """Raise the one `UnsupportedFeatureError` the facts' check gives for OCI edges."""
    check_features("oci", {"edge-zones"})
    raise AssertionError("cloud_gaps.csv lists edge-zones for oci")  # pragma: no cover
