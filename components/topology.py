"""How standby and edge stacks derive from the service they copy: one description of the
service, many deployments of it."""

from __future__ import annotations

from dataclasses import dataclass

from components import catalog
from components.catalog import EdgeType, InstanceType, Region
from components.catalog.resolve import ResolvedPlan
from components.errors import CatalogError, SpecError
from components.spec import EdgeSpec, GpuSpec, ServiceSpec, StandbySpec


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
            "gpu": gpu.model_copy(update={"min_nodes": low_nodes}),
            "triton": triton.model_copy(update={"min_replicas": low_replicas}),
        }
    )


@dataclass(frozen=True)
class EdgePlan:
    """What an edge zone gives the service: the machine type, GPU or CPU serving."""

    zone: str
    kind: str
    parent_region: str
    instance: EdgeType
    zone_types: tuple[EdgeType, ...]

    @property
    def on_gpu(self) -> bool:
        """Whether Triton serves on a GPU in this zone (else on CPU)."""
        return self.instance.gpu_count > 0

    @property
    def label(self) -> str:
        """`g4dn.2xlarge` or `Standard_D8s_v5 (CPU)`."""
        return self.instance.instance_type + ("" if self.on_gpu else " (CPU)")

    def resolved(self, service: ServiceSpec) -> ResolvedPlan:
        """The zone's machines as a regional plan, for clouds whose edge is a cluster of its
        own (Azure Extended Zones): no zone list, the smallest zone type for system nodes."""
        smallest = min(self.zone_types, key=lambda t: (t.gpu_count, t.vcpus))
        region = Region(
            self.instance.cloud, self.parent_region, self.zone, (), self.instance.provenance
        )
        return ResolvedPlan(
            region=region,
            gpu_instance=_as_instance(self.instance),
            gpu_zones=(),
            system_instance=_as_instance(smallest),
            triton=catalog.triton_release(service.triton.version),
        )


def _as_instance(edge_type: EdgeType) -> InstanceType:
    """An edge machine as an instance type (edge zones are not priced in the catalog)."""
    return InstanceType(
        cloud=edge_type.cloud,
        instance_type=edge_type.instance_type,
        accelerator="",
        gpu_model=edge_type.gpu_model,
        gpu_count=edge_type.gpu_count,
        gpu_memory_gib=edge_type.gpu_memory_gib,
        vcpus=edge_type.vcpus,
        memory_gib=edge_type.memory_gib,
        region=edge_type.parent_region,
        usd_per_hour=0.0,
        provenance=edge_type.provenance,
    )


def resolve_edge(service: ServiceSpec, edge: EdgeSpec) -> EdgePlan:
    """Pre-flight of an edge deployment from catalog data: the zone exists in that cloud, and
    offers the service's GPU, or no GPU at all (then Triton serves on CPU)."""
    in_cloud = [t for t in catalog.edge_types() if t.cloud == edge.provider]
    zone_types = tuple(t for t in in_cloud if t.zone == edge.zone)
    if not zone_types:
        zones = sorted({t.zone for t in in_cloud})
        raise CatalogError(
            f"unknown {edge.provider} edge zone {edge.zone!r}",
            field="zone",
            fix=f"use one of: {', '.join(zones) or '(none in the catalog)'}",
        )
    gpu = edge.gpu or service.gpu
    gpu_types = [t for t in zone_types if t.gpu_count]
    if gpu_types:
        instance = _gpu_type(edge, gpu, gpu_types)
    else:
        instance = max(zone_types, key=lambda t: (t.vcpus, t.memory_gib))
    first = zone_types[0]
    return EdgePlan(edge.zone, first.kind, first.parent_region, instance, zone_types)


def _gpu_type(edge: EdgeSpec, gpu: GpuSpec, offered: list[EdgeType]) -> EdgeType:
    fits = [t for t in offered if gpu.accepts(t.gpu_model, t.gpu_memory_gib, t.gpu_count)]
    if not fits:
        listed = "; ".join(
            f"{t.instance_type} ({t.gpu_count}x {t.gpu_model} {t.gpu_memory_gib} GiB)"
            for t in offered
        )
        raise CatalogError(
            f"edge zone {edge.zone} offers no {gpu.wanted}",
            field="gpu",
            fix=f"ask for what {edge.zone} has: {listed}",
        )
    return min(fits, key=lambda t: (t.vcpus, t.instance_type))


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
            "gpu": (edge.gpu or service.gpu).model_copy(
                update={"min_nodes": edge.min_nodes, "max_nodes": edge.max_nodes}
            ),
        }
    )
