"""The achievable RTO of a standby: how long, from the primary failing, until the standby serves
at the primary's minimum capacity. Every phase comes from a catalog figure with its source."""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

from components import catalog
from components.catalog.clouds import facts
from components.spec import ServiceSpec, StandbyLevel, TrafficSpec

GIB = 1024


@dataclass(frozen=True)
class Phase:
    """One step of the recovery, its duration and where the figure comes from."""

    name: str
    seconds: float
    basis: str
    source: str


@dataclass(frozen=True)
class RtoEstimate:
    """The phases of a recovery at a standby level and their total."""

    level: StandbyLevel
    phases: tuple[Phase, ...]
    notes: tuple[str, ...] = ()

    @property
    def total_s(self) -> int:
        """Seconds from the primary failing to the standby serving, rounded up."""
        return math.ceil(sum(p.seconds for p in self.phases))

    def as_dict(self) -> dict[str, Any]:
        """The estimate as a stack output and for `--json`."""
        return {
            "level": self.level,
            "total_s": self.total_s,
            "phases": [p.__dict__ for p in self.phases],
            "notes": list(self.notes),
        }


def needs_capacity(level: StandbyLevel, primary: ServiceSpec) -> bool:
    """Whether the standby must add GPU nodes before it matches the primary's minimum."""
    if level == "hot":
        return False
    if level == "warm":
        return primary.gpu.min_nodes > 1 or primary.triton.min_replicas > 1
    return True


def estimate(
    level: StandbyLevel,
    primary: ServiceSpec,
    cloud: str,
    instance_type: str,
    traffic: TrafficSpec | None,
) -> RtoEstimate:
    """The RTO estimate of a standby on `cloud` (GPU nodes of `instance_type`) for `primary`."""
    phases = [*_dns_phases(traffic)]
    notes = []
    if traffic is None or not _health_checked(traffic):
        notes.append(
            "no DNS health check moves traffic by itself: the failover starts when an operator "
            "or a drill shifts the weights, which this estimate does not count"
        )
    if needs_capacity(level, primary):
        phases += _capacity_phases(primary, cloud, instance_type)
    return RtoEstimate(level=level, phases=tuple(phases), notes=tuple(notes))


def _health_checked(traffic: TrafficSpec) -> bool:
    return facts(traffic.dns_provider).dns_health_checks


def _dns_phases(traffic: TrafficSpec | None) -> list[Phase]:
    if traffic is None:
        return []
    phases = []
    if _health_checked(traffic):
        check = traffic.health_check
        phases.append(
            Phase(
                "DNS failure detection",
                check.detection_s,
                f"health check every {check.interval_s}s x {check.failure_threshold} failures",
                "stack config exitplan:traffic.health_check",
            )
        )
    phases.append(
        Phase(
            "DNS TTL expiry",
            traffic.ttl_s,
            f"record TTL {traffic.ttl_s}s",
            "stack config exitplan:traffic.ttl_s",
        )
    )
    return phases


def _capacity_phases(primary: ServiceSpec, cloud: str, instance_type: str) -> list[Phase]:
    size_mib = primary.triton.model_size_mib
    node = catalog.rto_figure(cloud, "gpu_node_provisioning", instance_type)
    pull = catalog.rto_figure(cloud, "image_pull")
    image = catalog.rto_figure(cloud, "triton_image")
    start = catalog.rto_figure(cloud, "pod_start")
    download = catalog.rto_figure(cloud, "model_download")
    load = catalog.rto_figure(cloud, "model_load")
    return [
        _phase("GPU node provisioning", node.value, node),
        _phase(
            "Triton image pull",
            image.value / pull.value,
            pull,
            f"{image.value:g} MiB at {pull.value:g} MiB/s",
        ),
        _phase("pod start", start.value, start),
        _phase(
            "model download",
            size_mib / download.value,
            download,
            f"{size_mib} MiB at {download.value:g} MiB/s",
        ),
        _phase(
            "model load",
            load.value * size_mib / GIB,
            load,
            f"{size_mib} MiB at {load.value:g} s/GiB",
        ),
    ]


def _phase(name: str, seconds: float, figure: catalog.RtoFigure, how: str = "") -> Phase:
    basis = f"{how}; {figure.basis}" if how else figure.basis
    return Phase(name, round(seconds, 1), basis, figure.provenance.source)


def dns_outage_estimate(traffic: TrafficSpec) -> dict[str, Any]:
    """What an outage of one routed stack takes behind the real DNS router: its health checks
    mark the stack down after interval x failure threshold, and clients keep the old answer
    for up to the record's TTL (longer where resolvers cache beyond it). Where the DNS cannot
    health-check the endpoint, detection is None and `gap` says why."""
    check = traffic.health_check
    gap = facts(traffic.dns_provider).lacks("dns-health-checks")
    detection = None if gap else check.detection_s
    return {
        "router": traffic.dns_provider,
        "zone": traffic.zone,
        "health_check_interval_s": check.interval_s,
        "failure_threshold": check.failure_threshold,
        "ttl_s": traffic.ttl_s,
        "detection_s": detection,
        "clients_moved_s": None if detection is None else detection + traffic.ttl_s,
        "gap": gap,
    }
