"""Oracle Cloud builders: enhanced OKE clusters with workload identity, OCI DNS steering
policies; no edge offering and no managed model replication (catalog gaps). What OCI *is*
(identity, gaps, store URIs) is catalog data: components/catalog/data/."""

from components.providers.base import Replicator
from components.providers.oci.cluster import build_cluster, pulumi_provider
from components.providers.oci.dns import build_router
from components.providers.oci.edge import build_edge

# No managed copy from another cloud's store: the replication-from-* gaps say why.
MODEL_REPLICATION: dict[str, Replicator] = {}

__all__ = ["MODEL_REPLICATION", "build_cluster", "build_edge", "build_router", "pulumi_provider"]
