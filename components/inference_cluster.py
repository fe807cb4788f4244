"""`GpuInferenceCluster`: one component, the same Args and outputs on every cloud."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import pulumi

from components.catalog.clouds import check_spec, facts
from components.catalog.resolve import ResolvedPlan, resolve
from components.providers.registry import builders
from components.serving import Placement, deployment_outputs, serve_triton
from components.spec import ServiceSpec

TYPE = "exitplan:index:GpuInferenceCluster"


@dataclass(frozen=True)
class GpuInferenceClusterArgs:
    """The validated service spec; cloud providers come from the caller's `opts`."""

    spec: ServiceSpec


def regional_placement(spec: ServiceSpec, plan: ResolvedPlan) -> Placement:
    """The GPU machines the catalog resolved for a regional cluster."""
    gpu = plan.gpu_instance
    return Placement(
        instance_label=gpu.label,
        gpu_model=gpu.gpu_model,
        gpu_memory_gib=gpu.gpu_memory_gib,
        gpus_per_node=gpu.gpu_count,
        max_nodes=spec.gpu.max_nodes,
        triton=plan.triton,
    )


class GpuInferenceCluster(pulumi.ComponentResource):
    """A GPU Kubernetes cluster serving the spec's models with Triton, on the spec's cloud.

    Outputs (the same on every cloud): provider, region, cluster_name, kubeconfig (secret),
    endpoint, model_repository_uri, gpu_instance_type, gpu_model, max_gpus, identity,
    triton_version and the parity facts."""

    endpoint: pulumi.Output[str]
    model_store_name: pulumi.Output[str]
    stack_outputs: dict[str, pulumi.Output[Any]]

    def __init__(
        self,
        name: str,
        args: GpuInferenceClusterArgs,
        opts: pulumi.ResourceOptions | None = None,
    ) -> None:
        super().__init__(TYPE, name, None, opts)
        spec = args.spec
        check_spec(spec)
        module = builders(spec.provider)
        plan = resolve(spec)
        cloud = module.build_cluster(name, spec, plan, self)
        placement = regional_placement(spec, plan)
        self.endpoint = serve_triton(
            name,
            spec,
            placement,
            cloud,
            device_plugin=not facts(spec.provider).device_plugin_managed,
            shared_cluster=False,
            parent=self,
        )
        self.model_store_name = cloud.model_store_name
        self.stack_outputs = {
            **deployment_outputs(
                spec, placement, cloud, self.endpoint, facts(spec.provider).lb_address
            ),
            "edge_attachment": cloud.edge_attachment,
        }
        self.register_outputs(self.stack_outputs)
