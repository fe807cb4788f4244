"""`EdgeDeployment`: the service's models served in an edge zone (AWS Wavelength, Google
Distributed Cloud connected, Azure Extended Zones), on the zone's GPU, or on CPU where the zone
offers no GPU at all."""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Any

import pulumi

from components import catalog
from components.catalog.clouds import facts
from components.catalog.resolve import EdgePlan
from components.providers.registry import builders
from components.serving import Placement, deployment_outputs, endpoint_kind, serve_triton
from components.spec import EdgeSpec, ServiceSpec
from components.triton import pods_per_node

TYPE = "exitplan:index:EdgeDeployment"


@dataclass(frozen=True)
class EdgeDeploymentArgs:
    """The service as deployed at the edge, the edge settings, the zone's pre-flight, and
    what the service stack exports for edges that join its cluster."""

    spec: ServiceSpec
    edge: EdgeSpec
    plan: EdgePlan
    attachment: pulumi.Output[dict[str, Any]]
    service_kubeconfig: pulumi.Output[str]


def edge_placement(spec: ServiceSpec, edge: EdgeSpec, plan: EdgePlan) -> Placement:
    """The zone's machine as the deployment's placement (no GPUs: CPU serving)."""
    instance = plan.instance
    return Placement(
        instance_label=plan.label,
        gpu_model=instance.gpu_model,
        gpu_memory_gib=instance.gpu_memory_gib,
        gpus_per_node=instance.gpu_count,
        max_nodes=edge.node_ceiling,
        triton=catalog.triton_release(spec.triton.version),
        pods_per_node=pods_per_node(instance.gpu_count, instance.vcpus, instance.memory_gib),
    )


class EdgeDeployment(pulumi.ComponentResource):
    """Nodes in the edge zone and Triton on them; the same outputs as a regional cluster plus
    the zone and whether it serves on GPU or CPU."""

    endpoint: pulumi.Output[str]
    stack_outputs: dict[str, pulumi.Output[Any]]

    def __init__(
        self, name: str, args: EdgeDeploymentArgs, opts: pulumi.ResourceOptions | None = None
    ) -> None:
        super().__init__(TYPE, name, None, opts)
        module = builders(args.edge.provider)
        built = module.build_edge(
            name, args.spec, args.edge, args.plan, args.attachment, args.service_kubeconfig, self
        )
        placement = replace(
            edge_placement(args.spec, args.edge, args.plan), zone_selector=built.zone_selector
        )
        served = serve_triton(
            name,
            args.spec,
            placement,
            built.cloud,
            device_plugin=args.plan.on_gpu and not facts(args.edge.provider).device_plugin_managed,
            shared_cluster=built.shared_cluster,
            service_type=built.service_type,
            parent=self,
        )
        self.endpoint = built.endpoint if built.endpoint is not None else served
        self.stack_outputs = {
            **deployment_outputs(
                args.spec,
                placement,
                built.cloud,
                self.endpoint,
                endpoint_kind(args.edge.provider, built.service_type),
            ),
            "edge_zone": pulumi.Output.from_input(
                {
                    "zone": args.plan.zone,
                    "kind": args.plan.kind,
                    "parent_region": args.plan.parent_region,
                }
            ),
        }
        self.register_outputs(self.stack_outputs)
