"""`GpuInferenceCluster`: one component, the same Args and outputs on every cloud."""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Any

import pulumi
import pulumi_kubernetes as k8s

from components.catalog.resolve import ResolvedPlan, resolve
from components.providers import cloud_for
from components.providers.base import CloudCluster
from components.spec import ServiceSpec
from components.triton import HTTP_PORT, TritonConfig, deploy_triton, manifest_kinds

TYPE = "exitplan:index:GpuInferenceCluster"


@dataclass(frozen=True)
class GpuInferenceClusterArgs:
    """The validated service spec; cloud providers come from the caller's `opts`."""

    spec: ServiceSpec


class GpuInferenceCluster(pulumi.ComponentResource):
    """A GPU Kubernetes cluster serving the spec's models with Triton, on the spec's cloud."""

    provider: pulumi.Output[str]
    region: pulumi.Output[str]
    cluster_name: pulumi.Output[str]
    kubeconfig: pulumi.Output[str]
    endpoint: pulumi.Output[str]
    model_repository_uri: pulumi.Output[str]
    gpu_instance_type: pulumi.Output[str]
    gpu_model: pulumi.Output[str]
    max_gpus: pulumi.Output[int]
    identity: pulumi.Output[dict[str, str]]
    triton_version: pulumi.Output[str]
    parity: pulumi.Output[dict[str, str]]

    def __init__(
        self,
        name: str,
        args: GpuInferenceClusterArgs,
        opts: pulumi.ResourceOptions | None = None,
    ) -> None:
        super().__init__(TYPE, name, None, opts)
        spec = args.spec
        module = cloud_for(spec)
        plan = resolve(spec)
        cloud = module.build_cluster(name, spec, plan, self)
        kubernetes = k8s.Provider(
            f"{name}-k8s",
            kubeconfig=cloud.kubeconfig,
            enable_server_side_apply=True,
            opts=pulumi.ResourceOptions(parent=self),
        )
        static = _triton_config(name, spec, plan, cloud, not module.DEVICE_PLUGIN_MANAGED)
        objects = deploy_triton(
            name,
            pulumi.Output.all(
                uri=cloud.model_source.uri,
                env=pulumi.Output.from_input(dict(cloud.model_source.env)),
                annotations=pulumi.Output.from_input(
                    dict(cloud.identity.service_account_annotations)
                ),
            ).apply(
                lambda v: replace(
                    static,
                    repository_uri=v["uri"],
                    env=v["env"],
                    service_account_annotations=v["annotations"],
                )
            ),
            manifest_kinds(static),
            pulumi.ResourceOptions(parent=self, provider=kubernetes),
            cloud.gpu_pool,
        )
        service = objects["service"]
        self.provider = pulumi.Output.from_input(spec.provider)
        self.region = pulumi.Output.from_input(spec.region)
        self.cluster_name = cloud.cluster_name
        self.kubeconfig = cloud.kubeconfig
        self.endpoint = service.status.apply(_endpoint)  # type: ignore[attr-defined]
        self.model_repository_uri = cloud.model_source.uri
        self.gpu_instance_type = pulumi.Output.from_input(plan.gpu_instance.label)
        self.gpu_model = pulumi.Output.from_input(plan.gpu_instance.gpu_model)
        self.max_gpus = pulumi.Output.from_input(plan.max_gpus)
        self.identity = pulumi.Output.all(cloud.identity.principal).apply(
            lambda p: {"kind": cloud.identity.kind, "principal": p[0]}
        )
        self.triton_version = pulumi.Output.from_input(plan.triton.triton_version)
        self.parity = _parity_facts(spec, plan, cloud, module.DEVICE_PLUGIN_MANAGED)
        self.model_store_name = cloud.model_store_name
        self.stack_outputs: dict[str, pulumi.Output[Any]] = {
            "provider": self.provider,
            "region": self.region,
            "cluster_name": self.cluster_name,
            "kubeconfig": self.kubeconfig,
            "endpoint": self.endpoint,
            "model_repository_uri": self.model_repository_uri,
            "gpu_instance_type": self.gpu_instance_type,
            "gpu_model": self.gpu_model,
            "max_gpus": self.max_gpus,
            "identity": self.identity,
            "triton_version": self.triton_version,
            "parity": self.parity,
        }
        self.register_outputs(self.stack_outputs)


def _triton_config(
    name: str, spec: ServiceSpec, plan: ResolvedPlan, cloud: CloudCluster, device_plugin: bool
) -> TritonConfig:
    """The Triton config from plain spec values; cloud outputs are filled in once known."""
    return TritonConfig(
        name=name,
        image=plan.triton.image,
        models=[(m.name, m.version) for m in spec.triton.models],
        repository_uri="",
        gpu_model=spec.gpu.model,
        gpus_per_pod=spec.gpu.gpus_per_node,
        min_replicas=spec.triton.min_replicas,
        max_replicas=spec.triton.max_replicas,
        target_utilization=spec.triton.autoscaling_target_utilization,
        pod_labels=cloud.identity.pod_labels,
        load_balancer_annotations=cloud.load_balancer_annotations,
        fetch=cloud.model_source.fetch,
        device_plugin=device_plugin,
    )


def _endpoint(status: dict[str, Any] | None) -> str:
    """The Triton HTTP endpoint from the LoadBalancer status (hostname on AWS, IP elsewhere)."""
    ingress = ((status or {}).get("load_balancer") or {}).get("ingress") or []
    host = (ingress[0].get("hostname") or ingress[0].get("ip")) if ingress else ""
    return f"http://{host}:{HTTP_PORT}" if host else ""


def _parity_facts(
    spec: ServiceSpec, plan: ResolvedPlan, cloud: CloudCluster, device_plugin_managed: bool
) -> pulumi.Output[dict[str, str]]:
    """The facts `exitplan parity` compares, each read from what the stack declares."""
    fetch = (
        "an init container copies it with workload identity"
        if cloud.model_source.fetch
        else "Triton reads it directly"
    )
    return pulumi.Output.all(cloud.kubernetes_version, cloud.encryption, cloud.api_exposure).apply(
        lambda v: {
            "triton version": plan.triton.triton_version,
            "models": ", ".join(f"{m.name}:{m.version}" for m in spec.triton.models),
            "GPU model": plan.gpu_instance.gpu_model,
            "GPU memory (GiB)": str(plan.gpu_instance.gpu_memory_gib),
            "max GPUs": str(plan.max_gpus),
            "Kubernetes minor": ".".join(str(v[0]).split(".")[:2]),
            "identity kind": cloud.identity.kind,
            "encryption": v[1],
            "public exposure": v[2],
            "model access": fetch,
            "device plugin": "managed by the platform"
            if device_plugin_managed
            else "exitplan DaemonSet",
        }
    )
