"""Google Cloud builders: GKE clusters, Cloud DNS routing, Distributed Cloud edge clusters,
and model replication from S3 with Storage Transfer Service. What Google Cloud *is*
(identity, gaps, store URIs) is catalog data: components/catalog/data/."""

from components.providers.base import Replicator
from components.providers.gcp.cluster import build_cluster, pulumi_provider
from components.providers.gcp.dns import build_router
from components.providers.gcp.edge import build_edge
from components.providers.gcp.replication import transfer_from_s3

MODEL_REPLICATION: dict[str, Replicator] = {"aws": transfer_from_s3}

__all__ = ["MODEL_REPLICATION", "build_cluster", "build_edge", "build_router", "pulumi_provider"]
