"""How standby and edge stacks derive from the service they copy: one description of the
service, many deployments of it."""

from __future__ import annotations

from components.catalog.resolve import EdgePlan
from components.errors import SpecError
from components.spec import EdgeSpec, ServiceSpec, StandbySpec


def standby_spec(primary: ServiceSpec, standby: StandbySpec) -> ServiceSpec:
    """The primary's service in the standby's cloud, sized by the standby level.

    hot: the primary's capacity. warm: one GPU node and one Triton replica ready, able to scale
    to the primary's max. pilot-light: no GPU node and no replica, able to scale to the max.
    """
    if standby.provider == primary.provider:
        raise SpecError(
            f"a standby must be in another cloud than its primary ({primary.provider})",
            field="provider",
            fix=f"pick a provider other than {primary.provider}",
        )
    gpu, triton = primary.gpu, primary.triton
    low_nodes, low_replicas = {
        "hot": (gpu.min_nodes, triton.min_replicas),
        "warm": (1, 1),
        "pilot-light": (0, 0),
    }[standby.level]
    return primary.model_copy(
        update={
            "provider": standby.provider,
            "region": standby.region,
            "role": "standby",
            "model_repository": standby.model_repository,
            "network": standby.network,
            "drillable": standby.drillable,
            "deletion_protection": standby.deletion_protection,
            "model_publisher": standby.model_publisher,
            "gpu": (standby.gpu or gpu).model_copy(
                update={"min_nodes": low_nodes, "max_nodes": gpu.max_nodes}
            ),
            "triton": triton.model_copy(update={"min_replicas": low_replicas}),
        }
    )


def edge_service_spec(service: ServiceSpec, edge: EdgeSpec, plan: EdgePlan) -> ServiceSpec:
    """The service as deployed in the edge zone (its GPU is the zone's, when it has one)."""
    return service.model_copy(
        update={
            "provider": edge.provider,
            "region": plan.parent_region,
            "role": "edge",
            "network": edge.network,
            "model_repository": edge.model_repository or service.model_repository,
            "drillable": edge.drillable,
            "deletion_protection": edge.deletion_protection,
            "model_publisher": edge.model_publisher,
            "gpu": (edge.gpu or service.gpu).model_copy(
                update={"min_nodes": edge.min_nodes, "max_nodes": edge.node_ceiling}
            ),
        }
    )
