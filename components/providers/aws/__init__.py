"""AWS: EKS clusters, Route 53 routing and Wavelength edge nodes."""

from components.providers.aws.cluster import (
    DEVICE_PLUGIN_MANAGED,
    IDENTITY_KIND,
    NAME,
    build_cluster,
    pulumi_provider,
    store_uri,
)
from components.providers.aws.dns import build_router
from components.providers.aws.edge import build_edge
from components.providers.base import Replicator

UNSUPPORTED: dict[str, str] = {
    "replication-from-gcp": (
        "DataSync reads Google Cloud Storage only with HMAC keys (static credentials); "
        "publishing the model to every store covers it"
    ),
    "replication-from-azure": (
        "DataSync reads Azure Blob only with a SAS token (a static credential); "
        "publishing the model to every store covers it"
    ),
}
# Whether edge nodes join the service stack's cluster (Wavelength nodes join its EKS
# cluster in the zone's parent region).
EDGE_JOINS_SERVICE_CLUSTER = True
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
