"""AWS builders: EKS clusters, Route 53 routing and Wavelength edge nodes. What AWS *is*
(identity, gaps, store URIs) is catalog data: components/catalog/data/clouds.csv."""

from components.providers.aws.cluster import build_cluster, pulumi_provider
from components.providers.aws.dns import build_router
from components.providers.aws.edge import build_edge
from components.providers.base import Replicator

MODEL_REPLICATION: dict[str, Replicator] = {}

__all__ = ["MODEL_REPLICATION", "build_cluster", "build_edge", "build_router", "pulumi_provider"]
