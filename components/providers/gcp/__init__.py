"""Google Cloud: GKE clusters, Cloud DNS routing, Distributed Cloud edge clusters, and model
replication from S3 with Storage Transfer Service."""

from components.providers.base import Replicator
from components.providers.gcp.cluster import (
    DEVICE_PLUGIN_MANAGED,
    IDENTITY_KIND,
    NAME,
    build_cluster,
    pulumi_provider,
    store_uri,
)
from components.providers.gcp.dns import build_router
from components.providers.gcp.edge import build_edge
from components.providers.gcp.replication import transfer_from_s3

UNSUPPORTED: dict[str, str] = {
    "dns-health-checks": (
        "Cloud DNS health checks serve internal load balancers only: a public endpoint in "
        "another cloud gets none, so weights alone route traffic"
    ),
    "dns-failover": (
        "Cloud DNS primary-backup policies need health-checked internal load balancers as the "
        "primary; public endpoints in other clouds cannot fail over by themselves"
    ),
    "replication-from-azure": (
        "Storage Transfer Service reads Azure Blob only with a SAS token (a static credential); "
        "publishing the model to every store covers it"
    ),
}
# Whether edge nodes join the service stack's cluster (a Distributed Cloud zone runs a
# cluster of its own).
EDGE_JOINS_SERVICE_CLUSTER = False
# Stack config keys every stack on this cloud must set.
REQUIRED_CONFIG: tuple[str, ...] = ("gcp:project",)
MODEL_REPLICATION: dict[str, Replicator] = {"aws": transfer_from_s3}

__all__ = [
    "DEVICE_PLUGIN_MANAGED",
    "EDGE_JOINS_SERVICE_CLUSTER",
    "IDENTITY_KIND",
    "MODEL_REPLICATION",
    "NAME",
    "REQUIRED_CONFIG",
    "UNSUPPORTED",
    "build_cluster",
    "build_edge",
    "build_router",
    "pulumi_provider",
    "store_uri",
]
