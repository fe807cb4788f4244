"""Azure builders: AKS clusters, Traffic Manager routing and Extended Zone edge clusters.
What Azure *is* (identity, gaps, store URIs) is catalog data: components/catalog/data/."""

from components.providers.azure.cluster import build_cluster, pulumi_provider
from components.providers.azure.dns import build_router
from components.providers.azure.edge import build_edge
from components.providers.base import Replicator

MODEL_REPLICATION: dict[str, Replicator] = {}

__all__ = ["MODEL_REPLICATION", "build_cluster", "build_edge", "build_router", "pulumi_provider"]
