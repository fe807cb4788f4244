"""Pulumi mocks that stand in for the clouds during an offline plan.

Each resource echoes its inputs and gains the few outputs its cloud would compute (ARNs,
endpoints, OIDC issuers, identities), shaped like the real provider's so that the program's
`apply` code runs exactly as it would in `pulumi up`. Values are placeholders, marked as such.
"""

from __future__ import annotations

import base64
import hashlib
import json
import threading
from collections.abc import Callable
from typing import Any

import pulumi

ACCOUNT = "123456789012"
SUBSCRIPTION = "00000000-0000-0000-0000-000000000000"
TENANT = "11111111-1111-1111-1111-111111111111"
PROJECT_NUMBER = "123456789012"
TRANSFER_AGENT = f"project-{PROJECT_NUMBER}@storage-transfer-service.iam.gserviceaccount.com"
PLACEHOLDER_CA = base64.b64encode(b"plan-only placeholder CA").decode()

State = dict[str, Any]


def _digest(text: str, size: int = 16) -> str:
    return hashlib.sha256(text.encode()).hexdigest()[:size].upper()


def _region(inputs: State) -> str:
    return str(inputs.get("region") or inputs.get("location") or "us-east-1").lower()


def _aws_eks(name: str, inputs: State, project: str) -> State:
    cluster = inputs.get("name", name)
    region = _region(inputs)
    issuer = f"https://oidc.eks.{region}.amazonaws.com/id/{_digest(cluster, 32)}"
    return {
        "name": cluster,
        "kubernetesNetworkConfig": {"serviceIpv4Cidr": "172.20.0.0/16", "ipFamily": "ipv4"},
        "endpoint": f"https://{_digest(cluster, 32)}.gr7.{region}.eks.amazonaws.com",
        "certificateAuthority": {"data": PLACEHOLDER_CA},
        "identities": [{"oidcs": [{"issuer": issuer}]}],
    }


def _aws_bucket(name: str, inputs: State, project: str) -> State:
    return {"bucket": inputs.get("bucket", name)}


def _azure_cluster(name: str, inputs: State, project: str) -> State:
    cluster = inputs.get("resourceName", name)
    identity = dict(inputs.get("identity") or {})
    # The API answers user-assigned identities as a map of id -> principal, not the input list.
    identity["userAssignedIdentities"] = {
        uid: _azure_identity(uid, {}, project)
        for uid in identity.get("userAssignedIdentities") or []
    }
    return {
        "name": cluster,
        "identity": identity,
        "fqdn": f"{cluster}.hcp.{_region(inputs)}.azmk8s.io",
        "oidcIssuerProfile": {
            "enabled": True,
            "issuerURL": f"https://{_region(inputs)}.oic.prod-aks.azure.com/{TENANT}/{_digest(cluster)}/",
        },
    }


def _azure_identity(name: str, inputs: State, project: str) -> State:
    return {
        "clientId": f"22222222-0000-0000-0000-{_digest(name, 12).lower()}",
        "principalId": f"33333333-0000-0000-0000-{_digest(name, 12).lower()}",
        "tenantId": TENANT,
    }


def _azure_key(name: str, inputs: State, project: str) -> State:
    vault = inputs.get("vaultName", "vault")
    key = inputs.get("keyName", name)
    version = _digest(name, 32).lower()
    return {"keyUriWithVersion": f"https://{vault}.vault.azure.net/keys/{key}/{version}"}


def _gcp_cluster(name: str, inputs: State, project: str) -> State:
    return {
        "name": inputs.get("name", name),
        "endpoint": "203.0.113.10",
        "masterAuth": {"clusterCaCertificate": PLACEHOLDER_CA},
    }


def _gcp_account(name: str, inputs: State, project: str) -> State:
    account_id = inputs.get("accountId", name)
    email = f"{account_id}@{project}.iam.gserviceaccount.com"
    return {"email": email, "name": f"projects/{project}/serviceAccounts/{email}"}


def _k8s_service(name: str, inputs: State, project: str) -> State:
    if (inputs.get("spec") or {}).get("type") != "LoadBalancer":
        return {}
    host = f"{_digest(name, 12).lower()}.lb.plan.invalid"
    return {"status": {"loadBalancer": {"ingress": [{"hostname": host}]}}}


def _stack_reference(name: str, inputs: State, project: str) -> State:
    """Another stack's outputs, as `pulumi stack output` would give them once deployed."""
    stack = str(inputs.get("name", name)).rsplit("/", 1)[-1]
    host = f"{_digest(stack, 12).lower()}.lb.plan.invalid"
    cluster = f"{stack}-cluster"
    attachment = {
        "vpc_id": f"vpc-{_digest(stack, 17).lower()}",
        "cluster_name": cluster,
        "endpoint": f"https://{_digest(cluster, 32)}.gr7.plan.eks.amazonaws.com",
        "certificate_authority": PLACEHOLDER_CA,
        "cluster_security_group_id": f"sg-{_digest(stack, 17).lower()}",
        "kubernetes_version": "1.33",
        "service_cidr": "172.20.0.0/16",
        "triton_role_arn": f"arn:aws:iam::{ACCOUNT}:role/{stack}-triton-irsa",
        "model_repository_uri": f"s3://{stack}-models",
    }
    kubeconfig = json.dumps({"apiVersion": "v1", "kind": "Config", "clusters": []})
    return {
        "outputs": {
            "endpoint": f"http://{host}:8000",
            "edge_attachment": attachment,
            "kubeconfig": kubeconfig,
        },
        "secretOutputNames": ["kubeconfig"],
    }


def _launch_template(name: str, inputs: State, project: str) -> State:
    return {"latestVersion": 1}


def _gdc_cluster(name: str, inputs: State, project: str) -> State:
    return {
        "name": inputs.get("name", name),
        "endpoint": "203.0.113.20",
        "clusterCaCertificate": PLACEHOLDER_CA,
    }


COMPUTED: dict[str, Callable[[str, State, str], State]] = {
    "pulumi:pulumi:StackReference": _stack_reference,
    "aws:ec2/launchTemplate:LaunchTemplate": _launch_template,
    "gcp:edgecontainer/cluster:Cluster": _gdc_cluster,
    "aws:eks/cluster:Cluster": _aws_eks,
    "aws:s3/bucket:Bucket": _aws_bucket,
    "azure-native:containerservice:ManagedCluster": _azure_cluster,
    "azure-native:managedidentity:UserAssignedIdentity": _azure_identity,
    "azure-native:keyvault:Key": _azure_key,
    "gcp:container/cluster:Cluster": _gcp_cluster,
    "gcp:serviceaccount/account:Account": _gcp_account,
    "kubernetes:core/v1:Service": _k8s_service,
}

AZURE_NAME_INPUTS = (
    "resourceName",
    "accountName",
    "containerName",
    "vaultName",
    "keyName",
    "resourceGroupName",
    "virtualNetworkName",
    "agentPoolName",
)


def _common(typ: str, name: str, inputs: State) -> State:
    """Identifiers every resource of a cloud has: ARNs on AWS, resource IDs on Azure."""
    if typ.startswith("aws:"):
        service = typ.split(":")[1].split("/")[0]
        return {"arn": f"arn:aws:{service}:us-east-1:{ACCOUNT}:{name}"}
    if typ.startswith("azure-native:"):
        physical = next((inputs[k] for k in AZURE_NAME_INPUTS if k in inputs), name)
        return {
            "name": physical,
            "id": f"/subscriptions/{SUBSCRIPTION}/providers/{typ.split(':')[1]}/{name}",
        }
    return {}


class PlanMocks(pulumi.runtime.Mocks):
    """Mocks for an offline plan; records each registration's inputs for the plan table."""

    def __init__(self, config: dict[str, Any]) -> None:
        self.project = str(config.get("gcp:project", "plan-project"))
        # Registrations run on executor threads: each thread sees its own last registration.
        self._local = threading.local()

    @property
    def last_inputs(self) -> State:
        """The inputs of the last resource registered on this thread."""
        return dict(getattr(self._local, "inputs", {}))

    def new_resource(self, args: pulumi.runtime.MockResourceArgs) -> tuple[str, State]:
        """Echo the inputs plus what the cloud would compute for this resource type."""
        self._local.inputs = args.inputs
        state = {**_common(args.typ, args.name, args.inputs), **args.inputs}
        computed = COMPUTED.get(args.typ)
        if computed:
            state.update(computed(args.name, args.inputs, self.project))
        return f"{args.name}-id", state

    def call(self, args: pulumi.runtime.MockCallArgs) -> tuple[State, list[tuple[str, str]]]:
        """Answer the data-source invokes the cloud modules make (no check failures)."""
        handler = self._invokes().get(args.token)
        return (handler(args.args) if handler else {}), []

    def _invokes(self) -> dict[str, Callable[[State], State]]:
        project = self.project
        return {
            "azure-native:authorization:getClientConfig": lambda _a: {
                "clientId": "plan-client",
                "objectId": "plan-object",
                "subscriptionId": SUBSCRIPTION,
                "tenantId": TENANT,
            },
            "azure-native:containerservice:listManagedClusterUserCredentials": lambda a: {
                "kubeconfigs": [{"name": "clusterUser", "value": _azure_kubeconfig(a)}]
            },
            "gcp:organizations/getClientConfig:getClientConfig": lambda _a: {
                "project": project,
                "region": "",
                "zone": "",
                "accessToken": "",
                "id": project,
            },
            "aws:route53/getZone:getZone": lambda a: {
                "zoneId": f"Z{_digest(str(a.get('name', 'zone')), 12)}",
                "name": a.get("name", ""),
                "id": f"Z{_digest(str(a.get('name', 'zone')), 12)}",
            },
            "gcp:storage/getTransferProjectServiceAccount:getTransferProjectServiceAccount": (
                lambda _a: {
                    "email": TRANSFER_AGENT,
                    "subjectId": "100000000000000000000",
                    "member": f"serviceAccount:{TRANSFER_AGENT}",
                    "id": project,
                }
            ),
            "aws:ssm/getParameter:getParameter": lambda a: {
                "name": a.get("name", ""),
                "value": f"ami-{_digest(str(a.get('name', '')), 17).lower()}",
                "type": "String",
                "id": a.get("name", ""),
            },
            "gcp:organizations/getProject:getProject": lambda _a: {
                "number": PROJECT_NUMBER,
                "projectId": project,
                "name": project,
            },
        }


def _azure_kubeconfig(args: State) -> str:
    cluster = str(args.get("resourceName", "aks"))
    config = {
        "apiVersion": "v1",
        "kind": "Config",
        "clusters": [
            {"name": cluster, "cluster": {"server": f"https://{cluster}.plan.invalid:443"}}
        ],
        "users": [{"name": "clusterUser", "user": {"exec": {"command": "kubelogin"}}}],
        "contexts": [{"name": cluster, "context": {"cluster": cluster, "user": "clusterUser"}}],
        "current-context": cluster,
    }
    return base64.b64encode(json.dumps(config).encode()).decode()
