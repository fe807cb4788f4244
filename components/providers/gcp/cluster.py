"""Google Cloud: VPC with secondary ranges and Cloud NAT, a private regional GKE cluster with
workload identity, shielded nodes and Cloud KMS secrets encryption, a GPU node pool with
driver installation, a locked-down GCS bucket and a service account that can only read it."""

from __future__ import annotations

import ipaddress
from typing import Any

import pulumi
import pulumi_gcp as gcp

from components.catalog.clouds import GPU_NODE_LABEL, facts
from components.catalog.resolve import ResolvedPlan
from components.providers.base import (
    TRITON_NAMESPACE,
    TRITON_SERVICE_ACCOUNT,
    CloudCluster,
    ModelSource,
    WorkloadIdentity,
    encryption_summary,
    exec_kubeconfig,
    exposure_summary,
)
from components.providers.gcp.apis import GKE_APIS, enable_apis
from components.spec import ServiceSpec

FACTS = facts("gcp")

# The least-privilege node role (logging, monitoring, metadata and autoscaler metrics) plus
# image pulls: https://cloud.google.com/kubernetes-engine/docs/how-to/service-accounts
# (node service accounts) and CIS GKE Benchmark 2.0.0, 5.2.1.
NODE_ROLES = (
    "roles/container.defaultNodeServiceAccount",
    "roles/artifactregistry.reader",
)
LOAD_BALANCER_ANNOTATIONS = {"cloud.google.com/l4-rbs": "enabled"}
MASTER_CIDR_PREFIX = 28
# A regional cluster's pools span three of the region's zones unless node_locations says
# otherwise (https://cloud.google.com/kubernetes-engine/docs/concepts/regional-clusters).
DEFAULT_ZONES = 3
# GKE installs the COS driver this label points to: LATEST is sourced as R570 in
# catalog/data/gpu_drivers.csv (policy gpu-driver-meets-triton checks it against the Triton
# image's CUDA); DEFAULT has no sourced branch, so it is not used.
GPU_DRIVER_VERSION = "LATEST"


# What Triton's GCS client needs on the bucket (catalog triton_store_operations.csv): objects
# get/list (objectViewer) and the bucket's metadata, which IsDirectory reads first
# (storage.buckets.get: legacyBucketReader; review J1, triton-inference-server/server#2253).
TRITON_BUCKET_ROLES = {
    "object-viewer": "roles/storage.objectViewer",
    "bucket-reader": "roles/storage.legacyBucketReader",
}


def pulumi_provider(spec: ServiceSpec) -> pulumi.ProviderResource:
    """The Google provider for the stack's `gcp:project` and the spec's region."""
    return gcp.Provider("gcp", project=pulumi.Config("gcp").require("project"), region=spec.region)


def project_context(
    parent: pulumi.Resource, apis: list[gcp.projects.Service]
) -> tuple[
    pulumi.Output[gcp.organizations.GetClientConfigResult],
    pulumi.Output[gcp.organizations.GetProjectResult],
]:
    """The provider's project (for the workload pool) and its number (for service agents),
    read once `apis` (Resource Manager among them) are enabled."""
    invoke = pulumi.InvokeOutputOptions(parent=parent, depends_on=apis)
    client = gcp.organizations.get_client_config_output(opts=invoke)
    project = gcp.organizations.get_project_output(project_id=client.project, opts=invoke)
    return client, project


def build_cluster(
    name: str, spec: ServiceSpec, plan: ResolvedPlan, parent: pulumi.Resource
) -> CloudCluster:
    """Private GKE with system and GPU pools, a GCS bucket and workload identity for Triton."""
    apis = enable_apis(name, GKE_APIS, parent)
    opts = pulumi.ResourceOptions(parent=parent, depends_on=apis)
    labels = gcp_labels(spec)
    client, project = project_context(parent, apis)
    network, subnet = _network(name, spec, opts)
    key_grant = _secrets_key(name, spec, project, labels, opts)
    cluster = gcp.container.Cluster(
        f"{name}-gke",
        name=name,
        location=spec.region,
        min_master_version=spec.kubernetes_version,
        remove_default_node_pool=True,
        initial_node_count=1,
        # Default on (a GKE cluster is not deleted by accident); `deletion_protection: false`
        # in the stack, applied once, lets `pulumi destroy` remove it (exit drills, teardown).
        deletion_protection=spec.deletion_protection,
        network=network.id,
        subnetwork=subnet.id,
        networking_mode="VPC_NATIVE",
        # GKE Dataplane V2: Kubernetes NetworkPolicy is always enforced (Triton's and the
        # device plugin's objects); Standard clusters choose it at creation
        # (cloud.google.com/kubernetes-engine/docs/how-to/dataplane-v2).
        datapath_provider="ADVANCED_DATAPATH",
        ip_allocation_policy={
            "cluster_secondary_range_name": "pods",
            "services_secondary_range_name": "services",
        },
        workload_identity_config={
            "workload_pool": client.project.apply(lambda p: f"{p}.svc.id.goog")
        },
        private_cluster_config={
            "enable_private_nodes": True,
            "enable_private_endpoint": False,
            "master_ipv4_cidr_block": str(_master_block(spec)),
        },
        master_authorized_networks_config={
            "cidr_blocks": [
                {"cidr_block": c, "display_name": f"allowed-{i}"}
                for i, c in enumerate(spec.network.api_allowed_cidrs)
            ]
        },
        enable_shielded_nodes=True,
        database_encryption={"state": "ENCRYPTED", "key_name": key_grant.crypto_key_id},
        logging_config={"enable_components": ["SYSTEM_COMPONENTS", "APISERVER", "WORKLOADS"]},
        release_channel={"channel": "REGULAR"},
        resource_labels=labels,
        opts=pulumi.ResourceOptions.merge(opts, pulumi.ResourceOptions(depends_on=[key_grant])),
    )
    node_sa = _node_service_account(name, client, opts)
    system_pool = _node_pool(name, spec, plan, cluster, node_sa, labels, opts, gpu=False)
    # The GPU pool after the system pool: GKE taints GPU nodes only beside a non-GPU pool.
    gpu_pool = _node_pool(
        name,
        spec,
        plan,
        cluster,
        node_sa,
        labels,
        pulumi.ResourceOptions.merge(opts, pulumi.ResourceOptions(depends_on=[system_pool])),
        gpu=True,
    )
    bucket = model_bucket(name, spec, labels, opts)
    # The pool exists once a workload-identity cluster does: reading it from the cluster makes
    # the binding wait for it (else "Identity Pool does not exist" on a fresh project).
    account = triton_account(
        name, spec, bucket, cluster.workload_identity_config.apply(_workload_pool), opts
    )
    return CloudCluster(
        cluster_name=cluster.name,
        kubeconfig=pulumi.Output.secret(_kubeconfig(cluster)),
        # What the control plane runs (min_master_version is only a floor under the channel).
        kubernetes_version=cluster.master_version.apply(lambda v: v or ""),
        identity=WorkloadIdentity(
            kind=FACTS.identity_kind,
            principal=account.email,
            service_account_annotations={"iam.gke.io/gcp-service-account": account.email},
        ),
        model_source=ModelSource(uri=bucket.name.apply(FACTS.store_uri), env={}),
        encryption=cluster.database_encryption.apply(
            lambda d: encryption_summary(d is not None and d.state == "ENCRYPTED")
        ),
        api_exposure=pulumi.Output.all(
            cluster.private_cluster_config, cluster.master_authorized_networks_config
        ).apply(_exposure),
        gpu_pool=gpu_pool,
        load_balancer_annotations=LOAD_BALANCER_ANNOTATIONS,
        model_store_name=bucket.name,
    )


def _blocks(
    spec: ServiceSpec,
) -> tuple[ipaddress.IPv4Network, ipaddress.IPv4Network, ipaddress.IPv4Network]:
    """Nodes, pods and services ranges carved from the spec's CIDR (pods get half)."""
    net = ipaddress.IPv4Network(spec.network.cidr)
    pods, rest = net.subnets(prefixlen_diff=1)
    nodes, services = list(rest.subnets(prefixlen_diff=1))
    return nodes, pods, services


def _master_block(spec: ServiceSpec) -> ipaddress.IPv4Network:
    """The control plane's /28 from the top of the services range."""
    services = _blocks(spec)[2]
    return list(services.subnets(new_prefix=MASTER_CIDR_PREFIX))[-1]


def _network(
    name: str, spec: ServiceSpec, opts: pulumi.ResourceOptions
) -> tuple[gcp.compute.Network, gcp.compute.Subnetwork]:
    nodes, pods, services = _blocks(spec)
    services_range = next(services.subnets(prefixlen_diff=1))
    network = gcp.compute.Network(f"{name}-vpc", auto_create_subnetworks=False, opts=opts)
    subnet = gcp.compute.Subnetwork(
        f"{name}-nodes",
        network=network.id,
        region=spec.region,
        ip_cidr_range=str(nodes),
        private_ip_google_access=True,
        secondary_ip_ranges=[
            {"range_name": "pods", "ip_cidr_range": str(pods)},
            {"range_name": "services", "ip_cidr_range": str(services_range)},
        ],
        opts=opts,
    )
    router = gcp.compute.Router(f"{name}-router", network=network.id, region=spec.region, opts=opts)
    gcp.compute.RouterNat(
        f"{name}-nat",
        router=router.name,
        region=spec.region,
        nat_ip_allocate_option="AUTO_ONLY",
        source_subnetwork_ip_ranges_to_nat="ALL_SUBNETWORKS_ALL_IP_RANGES",
        opts=opts,
    )
    return network, subnet


def _secrets_key(
    name: str,
    spec: ServiceSpec,
    project: pulumi.Output[gcp.organizations.GetProjectResult],
    labels: dict[str, str],
    opts: pulumi.ResourceOptions,
) -> gcp.kms.CryptoKeyIAMMember:
    """Cloud KMS key for application-layer secrets encryption, granted to the GKE agent."""
    ring = gcp.kms.KeyRing(f"{name}-keyring", location=spec.region, opts=opts)
    key = gcp.kms.CryptoKey(
        f"{name}-secrets-key",
        key_ring=ring.id,
        rotation_period="7776000s",
        labels=labels,
        opts=opts,
    )
    return gcp.kms.CryptoKeyIAMMember(
        f"{name}-secrets-key-gke",
        crypto_key_id=key.id,
        role="roles/cloudkms.cryptoKeyEncrypterDecrypter",
        member=project.number.apply(
            lambda n: f"serviceAccount:service-{n}@container-engine-robot.iam.gserviceaccount.com"
        ),
        opts=opts,
    )


def _node_service_account(
    name: str,
    client: pulumi.Output[gcp.organizations.GetClientConfigResult],
    opts: pulumi.ResourceOptions,
) -> gcp.serviceaccount.Account:
    """A least-privilege node identity instead of the default compute service account."""
    account = gcp.serviceaccount.Account(
        f"{name}-nodes-sa",
        account_id=f"{name}-nodes"[:30],
        display_name=f"GKE nodes of {name}",
        opts=opts,
    )
    for role in NODE_ROLES:
        gcp.projects.IAMMember(
            f"{name}-nodes-{role.split('/')[-1]}",
            project=client.project,
            role=role,
            member=account.email.apply(lambda e: f"serviceAccount:{e}"),
            opts=opts,
        )
    return account


def _node_pool(
    name: str,
    spec: ServiceSpec,
    plan: ResolvedPlan,
    cluster: gcp.container.Cluster,
    node_sa: gcp.serviceaccount.Account,
    labels: dict[str, str],
    opts: pulumi.ResourceOptions,
    *,
    gpu: bool,
) -> gcp.container.NodePool:
    """The system pool, or the GPU pool pinned to the zones that offer its accelerator."""
    instance = plan.gpu_instance if gpu else plan.system_instance
    config = gcp.container.NodePoolNodeConfigArgs(
        machine_type=instance.instance_type,
        service_account=node_sa.email,
        oauth_scopes=["https://www.googleapis.com/auth/cloud-platform"],
        workload_metadata_config=gcp.container.NodePoolNodeConfigWorkloadMetadataConfigArgs(
            mode="GKE_METADATA"
        ),
        shielded_instance_config=gcp.container.NodePoolNodeConfigShieldedInstanceConfigArgs(
            enable_secure_boot=True, enable_integrity_monitoring=True
        ),
        resource_labels=labels,
        labels={"exitplan.io/pool": "gpu", GPU_NODE_LABEL: spec.gpu.model}
        if gpu
        else {"exitplan.io/pool": "system"},
        spot=gpu and spec.gpu.capacity_type == "spot",
        guest_accelerators=[
            gcp.container.NodePoolNodeConfigGuestAcceleratorArgs(
                type=instance.accelerator,
                count=instance.gpu_count,
                gpu_driver_installation_config=(
                    gcp.container.NodePoolNodeConfigGuestAcceleratorGpuDriverInstallationConfigArgs(
                        gpu_driver_version=GPU_DRIVER_VERSION
                    )
                ),
            )
        ]
        if gpu
        else None,
        # No taint declared: GKE taints a GPU pool added beside a non-GPU pool with
        # nvidia.com/gpu=present:NoSchedule itself, and a declared copy shows as a diff
        # (https://cloud.google.com/kubernetes-engine/docs/how-to/gpus, "GPU node taints").
    )
    low, high = (
        (spec.gpu.min_nodes, spec.gpu.max_nodes)
        if gpu
        else (spec.system_pool.nodes, spec.system_pool.nodes + 1)
    )
    zones = list(plan.gpu_zones) if gpu else []
    return gcp.container.NodePool(
        f"{name}-{'gpu' if gpu else 'system'}",
        cluster=cluster.id,
        node_locations=zones or None,
        initial_node_count=initial_per_zone(low, len(zones) or DEFAULT_ZONES, gpu=gpu),
        autoscaling={"total_min_node_count": low, "total_max_node_count": high},
        node_config=config,
        management={"auto_repair": True, "auto_upgrade": True},
        opts=opts,
    )


def initial_per_zone(total: int, zones: int, *, gpu: bool) -> int:
    """GKE counts `initial_node_count` per zone of a multi-zone pool. A GPU pool starts at or
    below its minimum (floor: the autoscaler adds the rest for pending Triton pods, and a new
    project's small GPU quota is not exceeded); the system pool starts with at least its
    minimum (ceiling: system pods need somewhere to run before any autoscaling)."""
    return total // zones if gpu else -(-total // zones)


def model_bucket(
    name: str, spec: ServiceSpec, labels: dict[str, str], opts: pulumi.ResourceOptions
) -> gcp.storage.Bucket:
    return gcp.storage.Bucket(
        f"{name}-models",
        name=spec.model_repository,
        location=spec.region.upper(),
        uniform_bucket_level_access=True,
        public_access_prevention="enforced",
        versioning={"enabled": True},
        labels=labels,
        opts=opts,
    )


def triton_account_id(name: str) -> str:
    """The account ID of Triton's Google service account (at most 30 characters)."""
    return f"{name}-triton"[:30]


def triton_account(
    name: str,
    spec: ServiceSpec,
    bucket: gcp.storage.Bucket,
    workload_pool: pulumi.Output[str],
    opts: pulumi.ResourceOptions,
) -> gcp.serviceaccount.Account:
    """Triton's Google service account: reads the bucket, impersonated by the `triton/triton`
    Kubernetes service account of `workload_pool` (an output of the cluster that brings the
    pool, so the binding waits for it)."""
    account = gcp.serviceaccount.Account(
        f"{name}-triton-sa",
        account_id=triton_account_id(name),
        display_name=f"Triton of {spec.name}: reads {spec.model_repository}",
        opts=opts,
    )
    for suffix, role in TRITON_BUCKET_ROLES.items():
        gcp.storage.BucketIAMMember(
            f"{name}-triton-{suffix}",
            bucket=bucket.name,
            role=role,
            member=account.email.apply(lambda e: f"serviceAccount:{e}"),
            opts=opts,
        )
    gcp.serviceaccount.IAMMember(
        f"{name}-triton-workload-identity",
        service_account_id=account.name,
        role="roles/iam.workloadIdentityUser",
        member=workload_pool.apply(
            lambda pool: f"serviceAccount:{pool}[{TRITON_NAMESPACE}/{TRITON_SERVICE_ACCOUNT}]"
        ),
        opts=opts,
    )
    return account


def _workload_pool(config: Any) -> str:
    """The workload pool a GKE cluster reports (empty until it is known)."""
    return str((config or {}).get("workload_pool") or "")


def _kubeconfig(cluster: gcp.container.Cluster) -> pulumi.Output[str]:
    """A kubeconfig that authenticates with gke-gcloud-auth-plugin: no static credentials."""
    return pulumi.Output.all(cluster.name, cluster.endpoint, cluster.master_auth).apply(
        lambda args: exec_kubeconfig(
            args[0],
            f"https://{args[1]}",
            args[2]["cluster_ca_certificate"],
            {"command": "gke-gcloud-auth-plugin", "provideClusterInfo": True},
        )
    )


def _exposure(args: list[Any]) -> str:
    private, authorized = (a or {} for a in args)
    return exposure_summary(
        bool(private.get("enable_private_nodes")),
        [b["cidr_block"] for b in authorized.get("cidr_blocks") or []],
    )


def gcp_labels(spec: ServiceSpec) -> dict[str, str]:
    """The spec's tags and role as GCP labels."""
    return {
        gcp_label(k): gcp_label(v) for k, v in {**spec.tags, "exitplan-role": spec.role}.items()
    }


def gcp_label(value: str) -> str:
    """GCP labels: lowercase letters, digits, '-' and '_', at most 63 characters."""
    return "".join(c if c.isalnum() or c in "-_" else "-" for c in value.lower())[:63]
