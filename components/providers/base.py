"""The contract every cloud's builders fulfil: one `CloudModule` per cloud, registered in
`registry.CLOUDS`.

A cloud module builds the cloud side of a GPU inference cluster (network, Kubernetes, GPU pool,
model store, workload identity) and hands back a `CloudCluster`: everything the cloud-neutral
Triton layer needs, with real per-cloud differences (identity above all) modelled, not
flattened.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol

import pulumi
from pulumi.runtime import settings
from pulumi.runtime.mocks import MockMonitor

from components.catalog.clouds import AddressKind
from components.catalog.resolve import EdgePlan, ResolvedPlan
from components.spec import EdgeSpec, ServiceSpec, StandbySpec, TrafficSpec

TRITON_NAMESPACE = "triton"
TRITON_SERVICE_ACCOUNT = "triton"
GPU_TAINT_KEY = "nvidia.com/gpu"
GPU_TAINT_VALUE = "present"
# Where Triton is a NodePort Service (no load balancer in the zone), its ports on every node,
# pinned so that a firewall rule and a client can name them.
TRITON_NODE_PORTS = {"http": 30800, "grpc": 30801}
# Edge-zone nodes joined to a regional cluster carry this NoSchedule taint (value: the zone) so
# that only deployments pinned to an edge zone land there, not the regional service's pods.
EDGE_TAINT_KEY = "exitplan.io/edge"
FETCH_CREDENTIALS = "/var/run/secrets/exitplan/cloud"
# The model-sync sidecar (`components.model_sync`) mounts the pod's models volume here; a copy
# command writes the store's objects into FETCH_STAGING, and the sidecar moves what changed into
# the repository Triton reads.
SYNC_MOUNT = "/sync"
FETCH_STAGING = f"{SYNC_MOUNT}/staging"


@dataclass(frozen=True)
class WorkloadIdentity:
    """How Triton's Kubernetes service account gets cloud credentials, with no static keys."""

    kind: str
    principal: pulumi.Output[str]
    service_account_annotations: Mapping[str, pulumi.Input[str]]
    pod_labels: Mapping[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class ModelFetch:
    """The cloud's command that copies the store into `FETCH_STAGING` with workload identity;
    the model-sync sidecar runs it in a loop (`components.model_sync`).

    Used where this Triton release cannot read the cloud's store with workload identity itself
    (Azure Blob before managed-identity support): never a storage key instead.
    """

    image: str
    command: Sequence[str]
    # Where no platform webhook or metadata server serves credentials (fleet workload identity
    # outside Google Cloud): env for the copy, projected-volume sources mounted read-only at
    # FETCH_CREDENTIALS (a service-account token, files from pod annotations), and those
    # pod annotations.
    env: Mapping[str, str] = field(default_factory=dict)
    credentials: Sequence[Mapping[str, Any]] = ()
    annotations: Mapping[str, str] = field(default_factory=dict)
    # The copy authenticates with the pod's own service-account token at the default path:
    # the pod mounts it (automountServiceAccountToken), whatever its ServiceAccount says.
    service_account_token: bool = False


@dataclass(frozen=True)
class ModelSource:
    """Where Triton's model repository lives and how Triton reaches it."""

    uri: pulumi.Output[str]
    env: Mapping[str, pulumi.Input[str]]
    fetch: ModelFetch | None = None


@dataclass(frozen=True)
class CloudCluster:
    """The cloud side of one inference cluster, as the Triton layer and the outputs need it."""

    cluster_name: pulumi.Output[str]
    kubeconfig: pulumi.Output[str]
    kubernetes_version: pulumi.Output[str]
    identity: WorkloadIdentity
    model_source: ModelSource
    encryption: pulumi.Output[str]
    api_exposure: pulumi.Output[str]
    gpu_pool: pulumi.Resource
    load_balancer_annotations: Mapping[str, str]
    model_store_name: pulumi.Output[str]
    # What an edge deployment needs to join this cluster (AWS Wavelength nodes); else empty.
    edge_attachment: pulumi.Output[dict[str, Any]] = field(
        default_factory=lambda: pulumi.Output.from_input({})
    )


@dataclass(frozen=True)
class EdgeCluster:
    """The cluster an edge deployment serves from: joined to another stack's cluster (AWS
    Wavelength nodes) or a cluster of its own in the edge zone."""

    cloud: CloudCluster
    shared_cluster: bool
    zone_selector: Mapping[str, str] = field(default_factory=dict)
    service_type: str = "LoadBalancer"
    # A NodePort service's endpoint, which no load-balancer status reports (Wavelength:
    # a node's carrier IP and the pinned HTTP node port).
    endpoint: pulumi.Output[str] | None = None


@dataclass(frozen=True)
class RoutedEndpoint:
    """One routed stack's Triton endpoint as a DNS router needs it: the host (no scheme or
    port), what the host is (an IP, or a load balancer's hostname: the catalog's
    `lb_address`), and the stack's cloud and region (an AWS NLB alias needs its region's zone).
    The kind is static, so a router declares one record type per name before any host is
    known."""

    host: pulumi.Output[str]
    kind: AddressKind
    provider: str
    region: str


@dataclass(frozen=True)
class RoutedName:
    """What a DNS router built: the public name and how traffic reaches each stack."""

    public_name: str
    health_checked: bool
    weights: Mapping[str, int]
    records: Sequence[pulumi.Resource]


# (name, primary's bucket, standby's bucket, standby settings, parent) -> resources declared.
Replicator = Callable[
    [str, str, pulumi.Output[str], StandbySpec, pulumi.Resource], Sequence[pulumi.Resource]
]


def running_under_mocks() -> bool:
    """Whether the program runs under Pulumi's mocks (`exitplan plan`, the tests): `set_mocks`
    installs a `MockMonitor` as the resource monitor, a real engine a gRPC client."""
    return isinstance(settings.get_monitor(), MockMonitor)


def encryption_summary(secrets_customer_key: bool) -> str:
    """The cloud-neutral encryption fact that parity compares across clouds."""
    secrets = "customer-managed key" if secrets_customer_key else "platform default"
    return f"secrets: {secrets}; model store: encrypted, versioned"


def exposure_summary(private_endpoint: bool, api_cidrs: list[str]) -> str:
    """The cloud-neutral exposure fact: how the API is reachable; the store is never public."""
    api = "private endpoint" if private_endpoint else "no private endpoint"
    allowed = (
        f"public limited to {len(api_cidrs)} CIDR(s)" if api_cidrs else "public to the internet"
    )
    return f"API: {api}, {allowed}; model store: no public access"


def exec_kubeconfig(cluster: str, server: str, ca_data: str, exec_spec: dict[str, object]) -> str:
    """A kubeconfig whose user runs a cloud CLI for short-lived tokens: no static credentials."""
    user = {"exec": {"apiVersion": "client.authentication.k8s.io/v1beta1", **exec_spec}}
    return json.dumps(
        {
            "apiVersion": "v1",
            "kind": "Config",
            "clusters": [
                {
                    "name": cluster,
                    "cluster": {"server": server, "certificate-authority-data": ca_data},
                }
            ],
            "contexts": [{"name": cluster, "context": {"cluster": cluster, "user": cluster}}],
            "current-context": cluster,
            "users": [{"name": cluster, "user": user}],
        }
    )


class CloudModule(Protocol):
    """A cloud's builders (its facts are catalog data: `components.catalog.clouds`)."""

    @property
    def MODEL_REPLICATION(self) -> Mapping[str, Replicator]:
        """Managed copies of another cloud's model store into this one's, by source cloud."""
        ...

    def build_router(
        self,
        name: str,
        dns_name: str,
        traffic: TrafficSpec,
        endpoints: Mapping[str, RoutedEndpoint],
        parent: pulumi.Resource,
    ) -> RoutedName:
        """Own `dns_name` in this cloud's DNS and route it over the stacks' endpoints, with
        records of the type their kind needs."""
        ...

    def build_edge(
        self,
        name: str,
        spec: ServiceSpec,
        edge: EdgeSpec,
        plan: EdgePlan,
        attachment: pulumi.Output[dict[str, Any]],
        service_kubeconfig: pulumi.Output[str],
        parent: pulumi.Resource,
    ) -> EdgeCluster:
        """Nodes in the edge zone; `attachment` and `service_kubeconfig` are the service
        stack's outputs, for edges that join its cluster."""
        ...

    def pulumi_provider(self, spec: ServiceSpec) -> pulumi.ProviderResource:
        """The cloud's Pulumi provider, created by the stack program and passed in."""
        ...

    def build_cluster(
        self, name: str, spec: ServiceSpec, plan: ResolvedPlan, parent: pulumi.Resource
    ) -> CloudCluster:
        """Create the cloud resources as children of `parent`; providers come from its opts."""
        ...
