"""Oracle Cloud: an enhanced OKE cluster (workload identity, Vault key for Kubernetes secrets)
with a public API endpoint open only to the spec's CIDRs, private worker nodes, a system pool
and a GPU pool with the NVIDIA GPU Plugin and Cluster Autoscaler add-ons, a private versioned
Object Storage bucket, and an IAM policy that lets only Triton's service account of this
cluster read it. Triton has no `oci://` client and the S3 compatibility API needs static keys,
so the model-sync sidecar copies the repository with OKE workload identity (the catalog gap
`triton-native-store`)."""

from __future__ import annotations

import base64
import ipaddress
import re
from collections.abc import Sequence
from typing import Any

import pulumi
import pulumi_oci as oci

from components import catalog
from components.catalog import InstanceType
from components.catalog.clouds import (
    FETCH_AUTH_ANNOTATION,
    GPU_NODE_LABEL,
    SERVICE_ACCOUNT_TOKEN_AUTH,
    facts,
)
from components.catalog.resolve import ResolvedPlan
from components.errors import SpecError
from components.providers.base import (
    FETCH_STAGING,
    GPU_TAINT_KEY,
    GPU_TAINT_VALUE,
    TRITON_NAMESPACE,
    TRITON_SERVICE_ACCOUNT,
    CloudCluster,
    ModelFetch,
    ModelSource,
    WorkloadIdentity,
    encryption_summary,
    exposure_summary,
)
from components.providers.oci.network import Network, build_network, field_of
from components.spec import ServiceSpec

FACTS = facts("oci")

# Flannel overlay ranges (OKE's defaults); they must not overlap the VCN.
PODS_CIDR = "10.244.0.0/16"
SERVICES_CIDR = "10.96.0.0/16"
NVIDIA_GPU_PLUGIN = "NvidiaGpuPlugin"
CLUSTER_AUTOSCALER = "ClusterAutoscaler"
# OKE deploys no metrics-server, so an HPA never scales (review J6); its cluster add-on needs
# cert-manager, here as the Certificate Manager add-on (docs.oracle.com/iaas/Content/ContEng/
# Tasks/contengworkingwithmetricsserver_cluster-add-on.htm).
CERT_MANAGER = "CertManager"
METRICS_SERVER = "KubernetesMetricsServer"
AUTOSCALER_ACCOUNT = ("kube-system", "cluster-autoscaler")
# The OCI CLI in the fetch container authenticates as the pod's service account (OKE workload
# identity: resource principal version 2.2, the region the token is exchanged in).
FETCH_AUTH = "oke_workload_identity"
LOAD_BALANCER_ANNOTATIONS = {
    "service.beta.kubernetes.io/oci-load-balancer-shape": "flexible",
    "service.beta.kubernetes.io/oci-load-balancer-shape-flex-min": "10",
    "service.beta.kubernetes.io/oci-load-balancer-shape-flex-max": "100",
    # The security lists are declared here (network.py), not edited by the cloud controller.
    "service.beta.kubernetes.io/oci-load-balancer-security-list-management-mode": "None",
}


def compartment_id() -> str:
    """The compartment every resource of the stack goes in (`exitplan:ociCompartment`)."""
    return pulumi.Config("exitplan").require("ociCompartment")


def pulumi_provider(spec: ServiceSpec) -> pulumi.ProviderResource:
    """The OCI provider for the stack's tenancy and the spec's region (credentials from the
    provider's own chain: ~/.oci/config, instance or resource principal)."""
    return oci.Provider(
        "oci", region=spec.region, tenancy_ocid=pulumi.Config("oci").require("tenancyOcid")
    )


def oci_tags(spec: ServiceSpec) -> dict[str, str]:
    """The spec's tags and role as OCI free-form tags."""
    return {**spec.tags, "exitplan-service": spec.name, "exitplan-role": spec.role}


def build_cluster(
    name: str, spec: ServiceSpec, plan: ResolvedPlan, parent: pulumi.Resource
) -> CloudCluster:
    """Enhanced OKE with system and GPU pools, an Object Storage bucket and a workload-identity
    policy for Triton."""
    _check_overlay(spec)
    opts = pulumi.ResourceOptions(parent=parent)
    invoke = pulumi.InvokeOutputOptions(parent=parent)
    compartment = compartment_id()
    tags = oci_tags(spec)
    network = build_network(name, spec, compartment, tags, opts, invoke)
    key, key_policy = _secrets_key(name, spec, compartment, tags, opts)
    options = oci.containerengine.get_node_pool_option_output(
        node_pool_option_id="all", compartment_id=compartment, opts=invoke
    )
    version = options.kubernetes_versions.apply(
        lambda versions: kubernetes_version(versions or [], spec.kubernetes_version)
    )
    cluster = oci.containerengine.Cluster(
        f"{name}-oke",
        name=name,
        compartment_id=compartment,
        vcn_id=network.vcn.id,
        kubernetes_version=version,
        # Workload identity is only for enhanced clusters.
        type="ENHANCED_CLUSTER",
        endpoint_config={"subnet_id": network.api_subnet.id, "is_public_ip_enabled": True},
        cluster_pod_network_options=[{"cni_type": "FLANNEL_OVERLAY"}],
        kms_key_id=key.id,
        options={
            "service_lb_subnet_ids": [network.lb_subnet.id],
            "kubernetes_network_config": {"pods_cidr": PODS_CIDR, "services_cidr": SERVICES_CIDR},
            "persistent_volume_config": {"freeform_tags": tags},
            "service_lb_config": {"freeform_tags": tags},
        },
        freeform_tags=tags,
        opts=pulumi.ResourceOptions.merge(opts, pulumi.ResourceOptions(depends_on=[key_policy])),
    )
    pools = _Pools(name, spec, plan, compartment, cluster, network, version, tags, opts, invoke)
    pools.build(gpu=False)
    gpu_pool = pools.build(gpu=True)
    _add_ons(name, spec, compartment, cluster, gpu_pool, opts)
    bucket = model_bucket(name, spec, compartment, tags, opts, invoke)
    triton_policy(name, spec, compartment, cluster, bucket, tags, opts)
    kubeconfig = oci.containerengine.get_cluster_kube_config_output(
        cluster_id=cluster.id, endpoint="PUBLIC_ENDPOINT", token_version="2.0.0", opts=invoke
    )
    return CloudCluster(
        cluster_name=cluster.name,
        kubeconfig=pulumi.Output.secret(kubeconfig.content),
        kubernetes_version=cluster.kubernetes_version.apply(lambda v: (v or "").removeprefix("v")),
        identity=WorkloadIdentity(
            kind=FACTS.identity_kind,
            principal=cluster.id.apply(workload_principal),
            service_account_annotations={},
        ),
        model_source=model_source(spec, bucket),
        encryption=cluster.kms_key_id.apply(lambda k: encryption_summary(bool(k))),
        api_exposure=pulumi.Output.all(cluster.endpoint_config, network.api_public_sources).apply(
            _exposure
        ),
        gpu_pool=gpu_pool,
        load_balancer_annotations=LOAD_BALANCER_ANNOTATIONS,
        model_store_name=bucket.name,
    )


def _check_overlay(spec: ServiceSpec) -> None:
    """OKE refuses a VCN that overlaps the flannel pod or service range."""
    vcn = ipaddress.IPv4Network(spec.network.cidr)
    for overlay in (PODS_CIDR, SERVICES_CIDR):
        if vcn.overlaps(ipaddress.IPv4Network(overlay)):
            raise SpecError(
                f"{spec.network.cidr} overlaps OKE's pod/service range {overlay}",
                field="network.cidr",
                fix=f"pick a VCN range outside {PODS_CIDR} and {SERVICES_CIDR}",
            )


def kubernetes_version(offered: Sequence[str], minor: str) -> str:
    """The newest OKE version (`v1.33.1`) of the spec's minor (`1.33`)."""
    matching = [v for v in offered if v.removeprefix("v").startswith(f"{minor}.")]
    if not matching:
        raise SpecError(
            f"OKE offers no Kubernetes {minor} (offered: {', '.join(offered) or 'none'})",
            field="kubernetes_version",
            fix="use a minor OKE supports",
        )
    return max(matching, key=lambda v: tuple(int(p) for p in re.findall(r"\d+", v)))


def workload_principal(cluster_id: str) -> str:
    """The workload OKE identifies Triton as: cluster, namespace and service account."""
    return f"{cluster_id}/{TRITON_NAMESPACE}/{TRITON_SERVICE_ACCOUNT}"


def workload_condition(cluster_id: str, namespace: str, account: str) -> str:
    """The IAM condition that matches one service account of one cluster and nothing else."""
    return (
        f"request.principal.type = 'workload', request.principal.namespace = '{namespace}', "
        f"request.principal.service_account = '{account}', "
        f"request.principal.cluster_id = '{cluster_id}'"
    )


def _secrets_key(
    name: str,
    spec: ServiceSpec,
    compartment: str,
    tags: dict[str, str],
    opts: pulumi.ResourceOptions,
) -> tuple[oci.kms.Key, oci.identity.Policy]:
    """A Vault master key for Kubernetes secrets in etcd, usable by OKE and this key only."""
    vault = oci.kms.Vault(
        f"{name}-vault",
        compartment_id=compartment,
        display_name=f"{spec.name}-kms",
        vault_type="DEFAULT",
        freeform_tags=tags,
        opts=opts,
    )
    key = oci.kms.Key(
        f"{name}-secrets-key",
        compartment_id=compartment,
        display_name=f"{spec.name}-etcd-secrets",
        key_shape={"algorithm": "AES", "length": 32},
        management_endpoint=vault.management_endpoint,
        protection_mode="HSM",
        freeform_tags=tags,
        opts=opts,
    )
    policy = oci.identity.Policy(
        f"{name}-secrets-key-policy",
        compartment_id=compartment,
        name=f"{name}-oke-secrets",
        description=f"OKE clusters of {spec.name} encrypt Kubernetes secrets with its Vault key",
        statements=key.id.apply(
            lambda k: [
                f"Allow service oke to use vaults in compartment id {compartment}",
                f"Allow service oke to use keys in compartment id {compartment} "
                f"where target.key.id = '{k}'",
                f"Allow any-user to use keys in compartment id {compartment} where ALL "
                f"{{request.principal.type = 'cluster', target.key.id = '{k}'}}",
            ]
        ),
        freeform_tags=tags,
        opts=opts,
    )
    return key, policy


class _Pools:
    """The system and GPU node pools: same network, version and tags, different shapes."""

    def __init__(
        self,
        name: str,
        spec: ServiceSpec,
        plan: ResolvedPlan,
        compartment: str,
        cluster: oci.containerengine.Cluster,
        network: Network,
        version: pulumi.Output[str],
        tags: dict[str, str],
        opts: pulumi.ResourceOptions,
        invoke: pulumi.InvokeOutputOptions,
    ) -> None:
        self.name, self.spec, self.plan = name, spec, plan
        self.compartment, self.cluster, self.network = compartment, cluster, network
        self.version, self.tags, self.opts = version, tags, opts
        self.domains = oci.identity.get_availability_domains_output(
            compartment_id=compartment, opts=invoke
        )
        self.options = oci.containerengine.get_node_pool_option_output(
            node_pool_option_id="all", compartment_id=compartment, opts=invoke
        )

    def build(self, *, gpu: bool) -> oci.containerengine.NodePool:
        """The system pool (tainted off for Triton by nothing), or the GPU pool tainted
        `nvidia.com/gpu` so only pods that tolerate it land there."""
        spec, plan = self.spec, self.plan
        instance = plan.gpu_instance if gpu else plan.system_instance
        on_gpu = gpu and instance.gpu_count > 0
        spot = gpu and spec.gpu.capacity_type == "spot"
        labels = (
            {"exitplan.io/pool": "gpu", GPU_NODE_LABEL: spec.gpu.model}
            if on_gpu
            else {"exitplan.io/pool": "inference-cpu" if gpu else "system"}
        )
        placements = pulumi.Output.all(self.domains.availability_domains, self.network.nodes.id)
        return oci.containerengine.NodePool(
            f"{self.name}-{'gpu' if gpu else 'system'}",
            name=f"{self.name}-{'gpu' if gpu else 'system'}",
            cluster_id=self.cluster.id,
            compartment_id=self.compartment,
            kubernetes_version=self.version,
            node_shape=instance.instance_type,
            node_shape_config=flex_shape(instance),
            node_source_details=oci.containerengine.NodePoolNodeSourceDetailsArgs(
                source_type="IMAGE",
                image_id=pulumi.Output.all(self.options.sources, self.version).apply(
                    lambda a: node_image(a[0] or [], a[1], gpu=on_gpu)
                ),
                # The Triton image alone is several GiB compressed.
                boot_volume_size_in_gbs="200" if gpu else "50",
            ),
            node_config_details=oci.containerengine.NodePoolNodeConfigDetailsArgs(
                size=spec.gpu.min_nodes if gpu else spec.system_pool.nodes,
                placement_configs=placements.apply(
                    lambda a: placement_configs(a[0] or [], plan.region.zones, a[1], spot=spot)
                ),
                is_pv_encryption_in_transit_enabled=True,
                freeform_tags=self.tags,
            ),
            initial_node_labels=[
                oci.containerengine.NodePoolInitialNodeLabelArgs(key=k, value=v)
                for k, v in labels.items()
            ],
            node_metadata={"user_data": gpu_taint_cloud_init()} if on_gpu else None,
            freeform_tags=self.tags,
            opts=self.opts,
        )


def flex_shape(instance: InstanceType) -> oci.containerengine.NodePoolNodeShapeConfigArgs | None:
    """OCPUs (two vCPUs each on x86) and memory of a flexible shape's catalog row."""
    if not instance.instance_type.endswith(".Flex"):
        return None
    return oci.containerengine.NodePoolNodeShapeConfigArgs(
        ocpus=instance.vcpus / 2, memory_in_gbs=instance.memory_gib
    )


def node_image(sources: Sequence[Any], version: str, *, gpu: bool) -> str:
    """The newest OKE Oracle Linux x86 image for `version`, with GPU drivers for GPU pools."""
    release = f"OKE-{version.removeprefix('v')}"
    fits = [
        s
        for s in sources
        if release in field_of(s, "source_name")
        and ("GPU" in field_of(s, "source_name")) == gpu
        and "aarch64" not in field_of(s, "source_name")
    ]
    if not fits:
        kind = "GPU" if gpu else "x86"
        raise SpecError(
            f"OKE lists no Oracle Linux {kind} node image for Kubernetes {version}",
            field="kubernetes_version",
            fix="use a Kubernetes version OKE publishes node images for",
        )
    return field_of(max(fits, key=lambda s: field_of(s, "source_name")), "image_id")


def placement_configs(
    domains: Sequence[Any], zones: Sequence[str], subnet_id: str, *, spot: bool
) -> list[Any]:
    """One placement per availability domain of the region (AD names carry a tenancy prefix:
    `Uocm:US-ASHBURN-AD-1`), on the private node subnet; preemptible capacity for spot."""
    preemptible = {"preemption_action": {"type": "TERMINATE", "is_preserve_boot_volume": False}}
    names = [field_of(d, "name") for d in domains]
    chosen = [n for n in names if n.split(":")[-1] in zones] or names
    return [
        {
            "availability_domain": ad,
            "subnet_id": subnet_id,
            **({"preemptible_node_config": preemptible} if spot else {}),
        }
        for ad in chosen
    ]


def gpu_taint_cloud_init() -> str:
    """OKE's node bootstrap with the GPU taint registered by the kubelet (node pools have no
    taint setting of their own)."""
    script = (
        "#!/bin/bash\n"
        "curl --fail -H 'Authorization: Bearer Oracle' -L0 "
        "http://169.254.169.254/opc/v2/instance/metadata/oke_init_script "
        "| base64 --decode > /var/run/oke-init.sh\n"
        "bash /var/run/oke-init.sh --kubelet-extra-args "
        f"'--register-with-taints={GPU_TAINT_KEY}={GPU_TAINT_VALUE}:NoSchedule'\n"
    )
    return base64.b64encode(script.encode()).decode()


def _add_ons(
    name: str,
    spec: ServiceSpec,
    compartment: str,
    cluster: oci.containerengine.Cluster,
    gpu_pool: oci.containerengine.NodePool,
    opts: pulumi.ResourceOptions,
) -> None:
    """The NVIDIA device plugin, metrics-server (after cert-manager, which it needs) and the
    cluster autoscaler as OKE-managed add-ons; the autoscaler acts with its own workload
    identity, limited to this compartment."""
    oci.containerengine.Addon(
        f"{name}-nvidia-gpu-plugin",
        cluster_id=cluster.id,
        addon_name=NVIDIA_GPU_PLUGIN,
        remove_addon_resources_on_delete=True,
        opts=opts,
    )
    cert_manager = oci.containerengine.Addon(
        f"{name}-cert-manager",
        cluster_id=cluster.id,
        addon_name=CERT_MANAGER,
        remove_addon_resources_on_delete=True,
        opts=opts,
    )
    oci.containerengine.Addon(
        f"{name}-metrics-server",
        cluster_id=cluster.id,
        addon_name=METRICS_SERVER,
        remove_addon_resources_on_delete=True,
        opts=pulumi.ResourceOptions.merge(opts, pulumi.ResourceOptions(depends_on=[cert_manager])),
    )
    namespace, account = AUTOSCALER_ACCOUNT
    oci.identity.Policy(
        f"{name}-autoscaler-policy",
        compartment_id=compartment,
        name=f"{name}-cluster-autoscaler",
        description=f"The cluster autoscaler of {spec.name} resizes its node pools",
        statements=cluster.id.apply(
            lambda cid: [
                f"Allow any-user to {verb} in compartment id {compartment} where ALL "
                f"{{{workload_condition(cid, namespace, account)}}}"
                for verb in (
                    "manage cluster-node-pools",
                    "manage instance-family",
                    "use subnets",
                    "read virtual-network-family",
                    "use vnics",
                    "inspect compartments",
                )
            ]
        ),
        opts=opts,
    )
    oci.containerengine.Addon(
        f"{name}-cluster-autoscaler",
        cluster_id=cluster.id,
        addon_name=CLUSTER_AUTOSCALER,
        configurations=[
            {"key": "authType", "value": "workload"},
            {
                "key": "nodes",
                "value": gpu_pool.id.apply(
                    lambda pool: f"{spec.gpu.min_nodes}:{spec.gpu.max_nodes}:{pool}"
                ),
            },
        ],
        remove_addon_resources_on_delete=True,
        opts=opts,
    )


def model_bucket(
    name: str,
    spec: ServiceSpec,
    compartment: str,
    tags: dict[str, str],
    opts: pulumi.ResourceOptions,
    invoke: pulumi.InvokeOutputOptions,
) -> oci.objectstorage.Bucket:
    """A private, versioned bucket in the tenancy's namespace; Object Storage encrypts every
    object at rest (AES-256, Oracle-managed keys)."""
    namespace = oci.objectstorage.get_namespace_output(compartment_id=compartment, opts=invoke)
    return oci.objectstorage.Bucket(
        f"{name}-models",
        compartment_id=compartment,
        namespace=namespace.namespace,
        name=spec.model_repository,
        access_type="NoPublicAccess",
        versioning="Enabled",
        storage_tier="Standard",
        freeform_tags=tags,
        opts=opts,
    )


def triton_policy(
    name: str,
    spec: ServiceSpec,
    compartment: str,
    cluster: oci.containerengine.Cluster,
    bucket: oci.objectstorage.Bucket,
    tags: dict[str, str],
    opts: pulumi.ResourceOptions,
) -> oci.identity.Policy:
    """Read access to the model bucket for Triton's service account of this cluster only."""
    return oci.identity.Policy(
        f"{name}-triton-policy",
        compartment_id=compartment,
        name=f"{name}-triton-reads-models",
        description=f"Triton of {spec.name} reads {spec.model_repository} (OKE workload identity)",
        statements=pulumi.Output.all(cluster.id, bucket.name).apply(
            lambda a: [
                f"Allow any-user to read objects in compartment id {compartment} where ALL "
                f"{{{workload_condition(a[0], TRITON_NAMESPACE, TRITON_SERVICE_ACCOUNT)}, "
                f"target.bucket.name = '{a[1]}'}}"
            ]
        ),
        freeform_tags=tags,
        opts=opts,
    )


def model_source(spec: ServiceSpec, bucket: oci.objectstorage.Bucket) -> ModelSource:
    """`oci://bucket`, copied by the OCI CLI as the pod's workload identity (in the model-sync
    sidecar: `components.model_sync`)."""
    cli = catalog.image("oci-cli")
    script = (
        "export OCI_RESOURCE_PRINCIPAL_VERSION=2.2 "
        f"OCI_RESOURCE_PRINCIPAL_REGION={spec.region} "
        "OCI_CLI_SUPPRESS_FILE_PERMISSIONS_WARNING=True && "
        f"oci os object bulk-download --auth {FETCH_AUTH} --region {spec.region} "
        f"--bucket-name {spec.model_repository} --download-dir {FETCH_STAGING} --overwrite "
        "--exclude '*/.staging-*'"
    )
    return ModelSource(
        uri=bucket.name.apply(FACTS.store_uri),
        env={},
        fetch=ModelFetch(
            image=cli.image,
            command=["sh", "-c", script],
            annotations={FETCH_AUTH_ANNOTATION: SERVICE_ACCOUNT_TOKEN_AUTH},
            service_account_token=True,
        ),
    )


def _exposure(args: list[Any]) -> str:
    endpoint, public_sources = args
    public = bool(field_of(endpoint or {}, "is_public_ip_enabled"))
    # The endpoint always has a private address in the VCN's API subnet.
    return exposure_summary(True, list(public_sources) if public else [])
