"""Serving the models with Triton on a cluster a cloud module built, and the outputs every
deployment exports: shared by `GpuInferenceCluster` and `EdgeDeployment`."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from typing import Any

import pulumi
import pulumi_kubernetes as k8s

from components.catalog import TritonRelease
from components.catalog.clouds import facts
from components.errors import SpecError
from components.outputs import EndpointKind
from components.providers.base import CloudCluster
from components.spec import ServiceSpec, model_config
from components.triton import (
    CPU_POD_MEMORY_GIB,
    CPU_POD_VCPUS,
    HTTP_PORT,
    TritonConfig,
    deploy_triton,
    manifest_kinds,
)


@dataclass(frozen=True)
class Placement:
    """The machines a deployment runs on, as its outputs and parity describe them."""

    instance_label: str
    gpu_model: str
    gpu_memory_gib: int
    gpus_per_node: int
    max_nodes: int
    triton: TritonRelease
    zone_selector: Mapping[str, str] = field(default_factory=dict)
    # Triton pods a node holds (`triton.pods_per_node`): 1 on GPU nodes.
    pods_per_node: int = 1

    @property
    def max_gpus(self) -> int:
        """GPUs at full scale-out."""
        return self.gpus_per_node * self.max_nodes

    @property
    def max_pods(self) -> int:
        """Triton pods the nodes hold at full scale-out."""
        return self.pods_per_node * self.max_nodes


def fitted_replicas(spec: ServiceSpec, placement: Placement) -> tuple[int, int, str]:
    """The HPA's (min, max) replicas within what the placement holds, and a note when the
    service's replicas were clamped to it (an edge of 2 one-GPU nodes holds 2 pods, not the
    service's 4: the rest would stay Pending). A placement that holds no pod is refused."""
    triton, capacity = spec.triton, placement.max_pods
    if capacity < 1:
        raise SpecError(
            f"a {placement.instance_label} node cannot hold one Triton pod "
            f"({CPU_POD_VCPUS} vCPU, {CPU_POD_MEMORY_GIB} GiB besides the node's reserve)",
            field="exitplan:edge.zone",
            fix="pick a zone with a GPU or a larger CPU machine",
        )
    low, high = min(triton.min_replicas, capacity), min(triton.max_replicas, capacity)
    if high == triton.max_replicas:
        return low, high, ""
    note = (
        f"{spec.name} on {placement.instance_label}: Triton's HPA maxReplicas is {high}, not "
        f"triton.max_replicas {triton.max_replicas}: max_nodes {placement.max_nodes} x "
        f"{placement.pods_per_node} pod(s) per node is all it can hold"
    )
    return low, high, note


def serve_triton(
    name: str,
    spec: ServiceSpec,
    placement: Placement,
    cloud: CloudCluster,
    *,
    device_plugin: bool,
    shared_cluster: bool,
    parent: pulumi.Resource,
    service_type: str = "LoadBalancer",
) -> pulumi.Output[str]:
    """Deploy Triton through a Kubernetes provider built from the cluster's kubeconfig; return
    the HTTP endpoint of its Service."""
    low, high, note = fitted_replicas(spec, placement)
    if note:
        pulumi.log.warn(note, resource=parent)
    kubernetes = k8s.Provider(
        f"{name}-k8s",
        kubeconfig=cloud.kubeconfig,
        enable_server_side_apply=True,
        opts=pulumi.ResourceOptions(parent=parent),
    )
    static = TritonConfig(
        name=name,
        image=placement.triton.image,
        models=[(m.name, m.version) for m in spec.triton.models],
        model_config=model_config(spec.triton).label,
        repository_uri="",
        gpu_model=placement.gpu_model,
        gpus_per_pod=placement.gpus_per_node,
        min_replicas=low,
        max_replicas=high,
        target_utilization=spec.triton.autoscaling_target_utilization,
        pod_labels=cloud.identity.pod_labels,
        load_balancer_annotations=cloud.load_balancer_annotations,
        fetch=cloud.model_source.fetch,
        device_plugin=device_plugin,
        zone_selector=placement.zone_selector,
        shared_cluster=shared_cluster,
        service_type=service_type,
    )
    resolved = pulumi.Output.all(
        uri=cloud.model_source.uri,
        env=pulumi.Output.from_input(dict(cloud.model_source.env)),
        annotations=pulumi.Output.from_input(dict(cloud.identity.service_account_annotations)),
    ).apply(
        lambda v: replace(
            static,
            repository_uri=v["uri"],
            env=v["env"],
            service_account_annotations=v["annotations"],
        )
    )
    objects = deploy_triton(
        name,
        resolved,
        manifest_kinds(static),
        pulumi.ResourceOptions(parent=parent, provider=kubernetes),
        cloud.gpu_pool,
    )
    return objects["service"].status.apply(_endpoint)  # type: ignore[attr-defined]


def _endpoint(status: dict[str, Any] | None) -> str:
    """The Triton HTTP endpoint from the LoadBalancer status (hostname on AWS, IP elsewhere)."""
    ingress = ((status or {}).get("load_balancer") or {}).get("ingress") or []
    host = (ingress[0].get("hostname") or ingress[0].get("ip")) if ingress else ""
    return f"http://{host}:{HTTP_PORT}" if host else ""


def endpoint_kind(provider: str, service_type: str) -> EndpointKind:
    """What a Triton Service's endpoint is: its cloud's load-balancer address kind, or node
    IPs for a NodePort (Wavelength carrier IPs)."""
    return facts(provider).lb_address if service_type == "LoadBalancer" else "ip"


def deployment_outputs(
    spec: ServiceSpec,
    placement: Placement,
    cloud: CloudCluster,
    endpoint: pulumi.Output[str],
    kind: EndpointKind,
) -> dict[str, pulumi.Output[Any]]:
    """The stack outputs every deployment exports: fields of `components.outputs.StackOutputs`
    (the same keys on every cloud)."""
    return {
        "provider": pulumi.Output.from_input(spec.provider),
        "region": pulumi.Output.from_input(spec.region),
        "cluster_name": cloud.cluster_name,
        "kubeconfig": cloud.kubeconfig,
        "endpoint": endpoint,
        "endpoint_kind": pulumi.Output.from_input(kind),
        "models": pulumi.Output.from_input(
            [m.model_dump(include={"name", "version", "digest"}) for m in spec.triton.models]
        ),
        "model_repository_uri": cloud.model_source.uri,
        "gpu_instance_type": pulumi.Output.from_input(placement.instance_label),
        "gpu_model": pulumi.Output.from_input(placement.gpu_model or "none (CPU)"),
        "max_gpus": pulumi.Output.from_input(placement.max_gpus),
        "identity": cloud.identity.principal.apply(
            lambda principal: {"kind": cloud.identity.kind, "principal": principal}
        ),
        "triton_version": pulumi.Output.from_input(placement.triton.triton_version),
        "parity": _parity_facts(spec, placement, cloud, facts(spec.provider).device_plugin_managed),
    }


def _device_plugin(on_gpu: bool, managed: bool) -> str:
    if not on_gpu:
        return "not needed (CPU serving)"
    return "managed by the platform" if managed else "exitplan DaemonSet"


def _parity_facts(
    spec: ServiceSpec, placement: Placement, cloud: CloudCluster, device_plugin_managed: bool
) -> pulumi.Output[dict[str, str]]:
    """The facts `exitplan parity` compares, each read from what the stack declares."""
    fetch = (
        "a model-sync sidecar copies it with workload identity"
        if cloud.model_source.fetch
        else "Triton reads it directly"
    )
    on_gpu = placement.gpus_per_node > 0
    return pulumi.Output.all(cloud.kubernetes_version, cloud.encryption, cloud.api_exposure).apply(
        lambda v: {
            "triton version": placement.triton.triton_version,
            "models": ", ".join(m.label for m in spec.triton.models),
            "serving": "GPU" if on_gpu else "CPU",
            "GPU model": placement.gpu_model or "none",
            "GPU memory (GiB)": str(placement.gpu_memory_gib),
            "max GPUs": str(placement.max_gpus),
            "max replicas": str(fitted_replicas(spec, placement)[1]),
            "Kubernetes minor": ".".join(str(v[0]).split(".")[:2]),
            "identity kind": cloud.identity.kind,
            "encryption": v[1],
            "public exposure": v[2],
            "model access": fetch,
            "device plugin": _device_plugin(on_gpu, device_plugin_managed),
        }
    )
