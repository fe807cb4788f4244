"""Google Distributed Cloud connected (the Anthos edge offering): an `edgecontainer` cluster
registered in the project's fleet, a node pool at the zone's node location, and Triton reading
the models from GCS with fleet workload identity."""

from __future__ import annotations

import ipaddress
import json
from typing import Any

import pulumi
import pulumi_gcp as gcp

from components import catalog
from components.catalog.resolve import EdgePlan
from components.errors import SpecError
from components.providers.base import (
    FETCH_CREDENTIALS,
    FETCH_STAGING,
    CloudCluster,
    EdgeCluster,
    ModelFetch,
    ModelSource,
    WorkloadIdentity,
    encryption_summary,
    exec_kubeconfig,
)
from components.providers.gcp.apis import GDC_APIS, enable_apis
from components.providers.gcp.cluster import (
    FACTS,
    gcp_labels,
    model_bucket,
    project_context,
    triton_account,
    triton_account_id,
)
from components.spec import EdgeSpec, ServiceSpec


def build_edge(
    name: str,
    spec: ServiceSpec,
    edge: EdgeSpec,
    plan: EdgePlan,
    attachment: pulumi.Output[dict[str, Any]],
    service_kubeconfig: pulumi.Output[str],
    parent: pulumi.Resource,
) -> EdgeCluster:
    """The edge cluster, its node pool, a model bucket and Triton's identity."""
    if not edge.admin_user:
        raise SpecError(
            "a Distributed Cloud cluster needs an admin user",
            field="exitplan:edge.admin_user",
            fix=(
                "set admin_user to the Google account (a user, not a group) that deploys the "
                "stack: the cluster grants it cluster-admin, which creating Triton needs"
            ),
        )
    pools = address_pools(edge)
    apis = enable_apis(name, GDC_APIS, parent)
    opts = pulumi.ResourceOptions(parent=parent, depends_on=apis)
    labels = gcp_labels(spec)
    client, project = project_context(parent, apis)
    pods, services = ipaddress.IPv4Network(edge.network.cidr).subnets(prefixlen_diff=1)
    cluster = gcp.edgecontainer.Cluster(
        f"{name}-gdc",
        name=name,
        location=plan.parent_region,
        authorization={"admin_users": {"username": edge.admin_user}},
        networking={
            "cluster_ipv4_cidr_blocks": [str(pods)],
            "services_ipv4_cidr_blocks": [str(services)],
        },
        fleet={"project": project.number.apply(lambda n: f"projects/{n}")},
        # MetalLB-style VIPs on the rack's network: without them a LoadBalancer Service
        # never gets an address.
        external_load_balancer_ipv4_address_pools=pools,
        # Distributed Cloud connected has only local control planes since 1.7.0 (Create and
        # manage clusters: https://cloud.google.com/distributed-cloud/edge/latest/docs/clusters);
        # 1 or 3 replicas, on nodes that also run workloads on a small rack.
        control_plane={
            "local": {
                "node_location": plan.zone,
                "node_count": 3 if edge.min_nodes >= 3 else 1,
                "shared_deployment_policy": "ALLOWED",
            }
        },
        target_version=edge.platform_version,
        # A provider-side guard, like GKE's deletion_protection (`deletion_protection` in the
        # stack; default on).
        deletion_policy="PREVENT" if spec.deletion_protection else "DELETE",
        labels=labels,
        opts=opts,
    )
    pool = gcp.edgecontainer.NodePool(
        f"{name}-nodes",
        name=f"{name}-nodes",
        cluster=cluster.name,
        location=plan.parent_region,
        node_location=plan.zone,
        node_count=edge.min_nodes,
        labels=labels,
        opts=opts,
    )
    bucket = model_bucket(name, spec, labels, opts)
    # The fleet's pool (<project>.svc.id.goog) is there once the cluster joined the fleet.
    workload_pool = pulumi.Output.all(cluster.id, client.project).apply(
        lambda a: f"{a[1]}.svc.id.goog"
    )
    account = triton_account(name, spec, bucket, workload_pool, opts)
    cloud = CloudCluster(
        cluster_name=cluster.name,
        kubeconfig=pulumi.Output.secret(
            pulumi.Output.all(cluster.name, cluster.endpoint, cluster.cluster_ca_certificate).apply(
                lambda a: exec_kubeconfig(
                    a[0],
                    f"https://{a[1]}",
                    a[2],
                    {"command": "gke-gcloud-auth-plugin", "provideClusterInfo": True},
                )
            )
        ),
        # A Distributed Cloud release (1.x.y), not a Kubernetes minor: reported as such.
        kubernetes_version=cluster.control_plane_version.apply(
            lambda v: f"Distributed Cloud {v}" if v else ""
        ),
        # GKE's metadata server (and its KSA annotation) does not run on a rack: the copy
        # exchanges a projected token through the fleet's pool (see fleet_fetch).
        identity=WorkloadIdentity(
            kind=FLEET_IDENTITY, principal=account.email, service_account_annotations={}
        ),
        model_source=ModelSource(
            uri=bucket.name.apply(FACTS.store_uri),
            env={},
            fetch=fleet_fetch(
                pulumi.Config("gcp").require("project"),
                name,
                triton_account_id(name),
                spec.model_repository,
            ),
        ),
        encryption=pulumi.Output.from_input(encryption_summary(False)),
        api_exposure=pulumi.Output.from_input(
            "API: Distributed Cloud control plane, fleet-authenticated; "
            "model store: no public access"
        ),
        gpu_pool=pool,
        load_balancer_annotations={},
        model_store_name=bucket.name,
    )
    return EdgeCluster(cloud, shared_cluster=False)


FLEET_IDENTITY = "fleet-workload-identity"
CREDENTIAL_FILE = "credential-configuration.json"
CREDENTIAL_ANNOTATION = "exitplan.io/gcp-credential-configuration"
TOKEN_SECONDS = 3600


def fleet_fetch(project: str, cluster: str, account_id: str, bucket: str) -> ModelFetch:
    """Copy the models with fleet workload identity, the way for fleet clusters outside
    Google Cloud ("Authenticate to APIs and services from fleet workloads",
    https://cloud.google.com/kubernetes-engine/fleet-management/docs/use-workload-identity):
    a service-account token with the pool as audience, exchanged by an `external_account`
    credential configuration for Triton's service account. Triton itself cannot: its GCS
    client reads only user or service-account key files, or a metadata server
    (triton-inference-server/core src/filesystem/implementations/gcs.h), so the model-sync sidecar
    runs gcloud (in the model-sync sidecar) and Triton serves the local copy."""
    pool = f"{project}.svc.id.goog"
    provider = (
        f"https://gkehub.googleapis.com/projects/{project}/locations/global/memberships/{cluster}"
    )
    email = f"{account_id}@{project}.iam.gserviceaccount.com"
    configuration = {
        "type": "external_account",
        "audience": f"identitynamespace:{pool}:{provider}",
        "subject_token_type": "urn:ietf:params:oauth:token-type:jwt",
        "token_url": "https://sts.googleapis.com/v1/token",
        "service_account_impersonation_url": (
            "https://iamcredentials.googleapis.com/v1/projects/-/serviceAccounts/"
            f"{email}:generateAccessToken"
        ),
        "credential_source": {"file": f"{FETCH_CREDENTIALS}/token"},
    }
    path = f"{FETCH_CREDENTIALS}/{CREDENTIAL_FILE}"
    return ModelFetch(
        image=catalog.image("google-cloud-cli").image,
        command=["gcloud", "storage", "rsync", "--recursive", f"gs://{bucket}", FETCH_STAGING],
        env={
            "CLOUDSDK_AUTH_CREDENTIAL_FILE_OVERRIDE": path,
            "GOOGLE_APPLICATION_CREDENTIALS": path,
            "CLOUDSDK_CONFIG": "/tmp/gcloud",
        },
        credentials=(
            {
                "serviceAccountToken": {
                    "audience": pool,
                    "expirationSeconds": TOKEN_SECONDS,
                    "path": "token",
                }
            },
            {
                "downwardAPI": {
                    "items": [
                        {
                            "path": CREDENTIAL_FILE,
                            "fieldRef": {
                                "fieldPath": f"metadata.annotations['{CREDENTIAL_ANNOTATION}']"
                            },
                        }
                    ]
                }
            },
        ),
        annotations={CREDENTIAL_ANNOTATION: json.dumps(configuration, sort_keys=True)},
    )


def address_pools(edge: EdgeSpec) -> list[str]:
    """The stack's load-balancer pools, each an IPv4 CIDR or an "a-b" range outside the
    cluster's pod and service ranges (refused with the field named otherwise)."""
    field = "exitplan:edge.load_balancer_pools"
    if not edge.load_balancer_pools:
        raise SpecError(
            "a Distributed Cloud cluster needs external load-balancer address pools, or "
            "Triton's LoadBalancer Service never gets an address",
            field=field,
            fix='list free IPv4 ranges of the rack\'s network, e.g. ["10.200.0.10-10.200.0.20"]',
        )
    cluster = ipaddress.IPv4Network(edge.network.cidr)
    for pool in edge.load_balancer_pools:
        first, last = _bounds(pool, field)
        if first > last or (first <= cluster[-1] and last >= cluster[0]):
            raise SpecError(
                f"load-balancer pool {pool!r} is empty or overlaps the cluster's {cluster}",
                field=field,
                fix="use free addresses of the rack's network outside network.cidr",
            )
    return list(edge.load_balancer_pools)


def _bounds(pool: str, field: str) -> tuple[ipaddress.IPv4Address, ipaddress.IPv4Address]:
    try:
        if "-" in pool:
            first, last = (ipaddress.IPv4Address(p.strip()) for p in pool.split("-", 1))
            return first, last
        net = ipaddress.IPv4Network(pool)
        return net[0], net[-1]
    except ValueError:
        raise SpecError(
            f"{pool!r} is not an IPv4 range or CIDR",
            field=field,
            fix='write each pool as "a.b.c.d-a.b.c.e" or "a.b.c.d/nn"',
        ) from None
