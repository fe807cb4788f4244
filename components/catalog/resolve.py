"""Resolution: the cheapest catalog instance type that meets a spec in its region."""

from __future__ import annotations

from dataclasses import dataclass

from components import catalog
from components.catalog import InstanceType, Region, TritonRelease
from components.errors import CatalogError
from components.spec import GpuSpec, ServiceSpec, SystemPoolSpec


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
            fix=f"pick from what {region} offers: {'; '.join(offered) or 'no GPU types'}",
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
            fix=f"lower the requirement; the catalog offers: {', '.join(offered) or 'none'}",
        )
    return min(fits, key=lambda t: (t.usd_per_hour, t.instance_type))
