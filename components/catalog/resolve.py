"""Resolution: the cheapest catalog instance type that meets a spec in its region."""

from __future__ import annotations

from dataclasses import dataclass

from components import catalog
from components.catalog import EdgeType, InstanceType, Region, TritonRelease
from components.errors import CatalogError
from components.spec import EdgeSpec, GpuSpec, ServiceSpec, SystemPoolSpec

COVERAGE_COMMAND = "`exitplan catalog coverage`"


@dataclass(frozen=True)
class ResolvedPlan:
    """What the catalog turned a spec into: the concrete types, zones and images."""

    region: Region
    gpu_instance: InstanceType
    gpu_zones: tuple[str, ...]
    system_instance: InstanceType
    triton: TritonRelease


def resolve(spec: ServiceSpec) -> ResolvedPlan:
    """Resolve a spec against the catalog; every error names the spec field to change."""
    reg = catalog.region(spec.provider, spec.region)
    gpu_type = cheapest_gpu_type(spec.provider, spec.region, spec.gpu)
    zones = reg.zones
    if gpu_type.accelerator:
        zones = catalog.gpu_zones().get((spec.provider, spec.region, gpu_type.accelerator), zones)
    return ResolvedPlan(
        region=reg,
        gpu_instance=gpu_type,
        gpu_zones=zones,
        system_instance=cheapest_system_type(spec.provider, spec.region, spec.system_pool),
        triton=catalog.triton_release(spec.triton.version),
    )


def cheapest_gpu_type(cloud: str, region: str, gpu: GpuSpec) -> InstanceType:
    """The cheapest type with the GPU model, memory and count asked for, in that region."""
    known = catalog.gpus()
    if gpu.model not in known:
        raise CatalogError(
            f"unknown GPU model {gpu.model!r}",
            field="gpu.model",
            fix=f"use one of: {', '.join(sorted(known))}",
        )
    in_region = [t for t in catalog.instance_types(cloud) if t.region == region and t.gpu_count]
    fits = [t for t in in_region if gpu.accepts(t.gpu_model, t.gpu_memory_gib, t.gpu_count)]
    if not fits:
        offered = sorted(
            {f"{t.gpu_count}x {t.gpu_model} ({t.gpu_memory_gib} GiB)" for t in in_region}
        )
        raise CatalogError(
            f"{cloud} {region} offers no type with {gpu.wanted}",
            field="gpu",
            fix=f"pick from what {region} offers: {'; '.join(offered) or 'no GPU types'} "
            f"({COVERAGE_COMMAND} lists every family and size per region)",
        )
    return min(fits, key=lambda t: (t.usd_per_hour, t.instance_type))


def cheapest_system_type(cloud: str, region: str, pool: SystemPoolSpec) -> InstanceType:
    """The cheapest CPU-only type with enough vCPUs and memory for the system pool."""
    cpu_types = [t for t in catalog.instance_types(cloud) if t.region == region and not t.gpu_count]
    fits = [
        t for t in cpu_types if t.vcpus >= pool.min_vcpus and t.memory_gib >= pool.min_memory_gib
    ]
    if not fits:
        offered = sorted(
            {f"{t.instance_type} ({t.vcpus} vCPU, {t.memory_gib:g} GiB)" for t in cpu_types}
        )
        raise CatalogError(
            f"{cloud} {region} has no CPU type with {pool.min_vcpus} vCPUs and "
            f"{pool.min_memory_gib} GiB",
            field="system_pool",
            fix=f"lower the requirement; the catalog offers: {', '.join(offered) or 'none'} "
            f"({COVERAGE_COMMAND} lists every family and size per region)",
        )
    return min(fits, key=lambda t: (t.usd_per_hour, t.instance_type))


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
