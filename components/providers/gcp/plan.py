"""Google Cloud under an offline plan: what the API would compute (cluster endpoints, service
account emails, the transfer agent), the invokes the builders make, and the properties
`exitplan plan` shows per type. Values are placeholders (documentation IPs), marked as such."""

from __future__ import annotations

from components.providers.plan_values import PLACEHOLDER_CA, Computed, Invoke, State

PROJECT_NUMBER = "123456789012"
# A Distributed Cloud connected release (its docs are versioned: .../connected/1.11.0/docs).
GDC_RELEASE = "1.11.0"
TRANSFER_AGENT = f"project-{PROJECT_NUMBER}@storage-transfer-service.iam.gserviceaccount.com"


def identifiers(typ: str, name: str, inputs: State) -> State:
    """Google resources carry no identifier the builders read beyond their inputs."""
    return {}


def project(config: State) -> str:
    """The stack's Google Cloud project (`gcp:project`)."""
    return str(config.get("gcp:project", "plan-project"))


def _account(name: str, inputs: State, config: State) -> State:
    email = f"{inputs.get('accountId', name)}@{project(config)}.iam.gserviceaccount.com"
    return {"email": email, "name": f"projects/{project(config)}/serviceAccounts/{email}"}


def _membership(name: str, inputs: State) -> str:
    """The fleet membership Distributed Cloud creates for a cluster (its documented form)."""
    project = str((inputs.get("fleet") or {}).get("project", f"projects/{PROJECT_NUMBER}"))
    return f"{project}/locations/global/memberships/{inputs.get('name', name)}"


COMPUTED: dict[str, Computed] = {
    "gcp:container/cluster:Cluster": lambda name, inputs, _c: {
        "name": inputs.get("name", name),
        "endpoint": "203.0.113.10",
        "masterAuth": {"clusterCaCertificate": PLACEHOLDER_CA},
        # GKE's version form (1.MINOR.PATCH-gke.N); the channel picks it at or above the floor.
        "masterVersion": f"{inputs.get('minMasterVersion', '1.0')}.0-gke.0",
    },
    "gcp:edgecontainer/cluster:Cluster": lambda name, inputs, _c: {
        "name": inputs.get("name", name),
        "endpoint": "203.0.113.20",
        "clusterCaCertificate": PLACEHOLDER_CA,
        # The pinned release, else a placeholder of the form a rack reports.
        "controlPlaneVersion": inputs.get("targetVersion") or GDC_RELEASE,
        "fleet": {**inputs.get("fleet", {}), "membership": _membership(name, inputs)},
    },
    "gcp:serviceaccount/account:Account": _account,
}

INVOKES: dict[str, Invoke] = {
    "gcp:organizations/getClientConfig:getClientConfig": lambda _a, config: {
        "project": project(config),
        "region": "",
        "zone": "",
        "accessToken": "",
        "id": project(config),
    },
    "gcp:storage/getTransferProjectServiceAccount:getTransferProjectServiceAccount": (
        lambda _a, config: {
            "email": TRANSFER_AGENT,
            "subjectId": "100000000000000000000",
            "member": f"serviceAccount:{TRANSFER_AGENT}",
            "id": project(config),
        }
    ),
    "gcp:organizations/getProject:getProject": lambda _a, config: {
        "number": PROJECT_NUMBER,
        "projectId": project(config),
        "name": project(config),
    },
}


KEY_PROPERTIES: dict[str, tuple[str, ...]] = {
    "gcp:container/cluster:Cluster": (
        "minMasterVersion",
        "deletionProtection",
        "workloadIdentityConfig.workloadPool",
        "privateClusterConfig.enablePrivateNodes",
        "databaseEncryption.state",
        "enableShieldedNodes",
    ),
    "gcp:container/nodePool:NodePool": (
        "nodeConfig.machineType",
        "nodeConfig.guestAccelerators.0.type",
        "nodeConfig.taints",
        "autoscaling",
    ),
    "gcp:edgecontainer/cluster:Cluster": (
        "externalLoadBalancerIpv4AddressPools",
        "controlPlane.local.nodeCount",
        "targetVersion",
        "authorization.adminUsers.username",
    ),
    "gcp:storage/bucket:Bucket": ("name", "uniformBucketLevelAccess", "publicAccessPrevention"),
    "gcp:serviceaccount/iAMMember:IAMMember": ("role", "member"),
}
