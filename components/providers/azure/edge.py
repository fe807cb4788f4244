"""Azure Extended Zones: an AKS cluster placed in the edge zone (`extendedLocation`), with a
node pool of a VM size that zone offers; the model store stays in the parent region."""

from __future__ import annotations

from typing import Any

import pulumi

from components.catalog.resolve import EdgePlan
from components.providers.azure.cluster import build_cluster
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
    """The regional AKS build, in the Extended Zone, on the zone's machine type."""
    resolved = plan.resolved(spec)
    return EdgeCluster(
        build_cluster(name, spec, resolved, parent, extended_zone=plan.zone), shared_cluster=False
    )
