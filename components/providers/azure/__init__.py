"""Azure: AKS clusters, Traffic Manager routing and Extended Zone edge clusters."""

from components.providers.azure.cluster import (
    DEVICE_PLUGIN_MANAGED,
    IDENTITY_KIND,
    NAME,
    build_cluster,
    pulumi_provider,
    store_uri,
)
from components.providers.azure.dns import build_router
from components.providers.azure.edge import build_edge
from components.providers.base import Replicator

UNSUPPORTED: dict[str, str] = {
    "replication-from-aws": (
        "Azure has no managed, scheduled copy from S3 that runs without static keys "
        "(AzCopy is a client tool); publishing the model to every store covers it"
    ),
    "replication-from-gcp": (
        "Azure has no managed copy from Google Cloud Storage; publishing the model to every "
        "store covers it"
    ),
}
# Whether edge nodes join the service stack's cluster (an Extended Zone gets an AKS cluster
# of its own).
EDGE_JOINS_SERVICE_CLUSTER = False
# Stack config keys every stack on this cloud must set.
REQUIRED_CONFIG: tuple[str, ...] = ()
MODEL_REPLICATION: dict[str, Replicator] = {}

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
