"""`WarmStandby`: the primary's service, in another cloud, at a standby level, with its models
replicated where that cloud offers a managed copy."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import pulumi

from components.catalog.clouds import facts
from components.inference_cluster import GpuInferenceCluster, GpuInferenceClusterArgs
from components.providers.registry import builders
from components.rto import RtoEstimate
from components.spec import ServiceSpec, StandbySpec
from components.topology import standby_spec

TYPE = "exitplan:index:WarmStandby"


@dataclass(frozen=True)
class WarmStandbyArgs:
    """The primary's spec, the standby's settings and its achievable-RTO estimate."""

    primary: ServiceSpec
    standby: StandbySpec
    rto: RtoEstimate


def replication_plan(primary: ServiceSpec, standby: StandbySpec) -> str:
    """How the standby gets the primary's models: a managed copy, or the gap's reason."""
    if primary.provider in builders(standby.provider).MODEL_REPLICATION:
        return f"managed copy from {primary.provider}"
    gap = facts(standby.provider).lacks(f"replication-from-{primary.provider}")
    reason = gap or "no managed copy"
    return f"published to every store ({reason})"


class WarmStandby(pulumi.ComponentResource):
    """A `GpuInferenceCluster` in the standby's cloud, sized by level, plus model replication."""

    cluster: GpuInferenceCluster
    level: pulumi.Output[str]
    rto_estimate: pulumi.Output[dict[str, Any]]
    model_replication: pulumi.Output[str]

    def __init__(
        self, name: str, args: WarmStandbyArgs, opts: pulumi.ResourceOptions | None = None
    ) -> None:
        super().__init__(TYPE, name, None, opts)
        spec = standby_spec(args.primary, args.standby)
        self.cluster = GpuInferenceCluster(
            f"{name}-standby",
            GpuInferenceClusterArgs(spec=spec),
            opts=pulumi.ResourceOptions(parent=self),
        )
        replicate = builders(spec.provider).MODEL_REPLICATION.get(args.primary.provider)
        if replicate:
            replicate(
                f"{name}-standby",
                args.primary.model_repository,
                self.cluster.model_store_name,
                args.standby,
                self,
            )
        self.level = pulumi.Output.from_input(args.standby.level)
        self.rto_estimate = pulumi.Output.from_input(args.rto.as_dict())
        self.model_replication = pulumi.Output.from_input(
            replication_plan(args.primary, args.standby)
        )
        self.stack_outputs: dict[str, pulumi.Output[Any]] = {
            **self.cluster.stack_outputs,
            "standby_level": self.level,
            "rto_estimate": self.rto_estimate,
            "model_replication": self.model_replication,
            "standby_gpu": pulumi.Output.from_input(
                args.standby.gpu.wanted if args.standby.gpu else None
            ),
        }
        self.register_outputs(self.stack_outputs)
