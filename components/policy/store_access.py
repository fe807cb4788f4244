"""What a stack grants the identity its Triton runs as, read from its planned resources: the
S3 policy documents of the IRSA role, the GCS roles bound on buckets, the Azure roles assigned
on containers. The policy pack checks these against what Triton's store client uses; the
sandbox gives the same grants to its stand-in principal. Pure functions over plain
(type, name, inputs) triples, so that both a CrossGuard resource and an offline plan fit."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from components.catalog.store_permissions import azure_role_names

Resource = tuple[str, str, Mapping[str, Any]]  # type token, logical name, inputs

AZURE_ROLE_ASSIGNMENT = "azure-native:authorization:RoleAssignment"
AZURE_IDENTITY = "azure-native:managedidentity:UserAssignedIdentity"
AZURE_FEDERATION = "azure-native:managedidentity:FederatedIdentityCredential"
AZURE_CONTAINER = "azure-native:storage:BlobContainer"
IAM_ROLE = "aws:iam/role:Role"
IAM_ROLE_POLICY = "aws:iam/rolePolicy:RolePolicy"
GCS_BUCKET_MEMBER = "gcp:storage/bucketIAMMember:BucketIAMMember"


def s3_policies(resources: Iterable[Resource], role_principal: str) -> list[str]:
    """The inline policy documents (JSON) of the IAM role `role_principal` names (its ARN,
    `arn:aws:iam::ACCOUNT:role/NAME`; under a plan NAME is the role's logical name)."""
    listed = list(resources)
    role_name = role_principal.rsplit("/", 1)[-1].rsplit(":", 1)[-1]
    roles = {
        name
        for typ, name, inputs in listed
        if typ == IAM_ROLE and role_name in (name, inputs.get("name"))
    }
    ids = roles | {f"{name}-id" for name in roles}
    return [
        str(inputs["policy"])
        for typ, _name, inputs in listed
        if typ == IAM_ROLE_POLICY and str(inputs.get("role", "")) in ids and inputs.get("policy")
    ]


def gcs_roles(resources: Iterable[Resource], service_account: str) -> dict[str, tuple[str, ...]]:
    """Bucket -> the roles bound on it to the service account (its email)."""
    member = f"serviceAccount:{service_account}"
    found: dict[str, list[str]] = {}
    for typ, _name, inputs in resources:
        if typ == GCS_BUCKET_MEMBER and inputs.get("member") == member:
            found.setdefault(str(inputs.get("bucket", "")), []).append(str(inputs.get("role")))
    return {bucket: tuple(sorted(roles)) for bucket, roles in found.items()}


def azure_roles(
    resources: Iterable[Resource], dependencies: Mapping[str, Iterable[str]], subject: str
) -> dict[str, tuple[str, ...]]:
    """Container -> the names of the roles assigned on it to the managed identity that the
    Kubernetes service account `subject` (`system:serviceaccount:NS:NAME`) federates to. The
    identity's principal ID is known only after deploy, so the assignments are found by what
    they depend on (`dependencies`: resource name -> the names it depends on): the federated
    identity and the container; a role definition ID is named by `azure_role_ids.csv` (an
    unknown one is kept as its ID, which the gate then refuses to guess at)."""
    listed = list(resources)
    identities = {name for typ, name, _ in listed if typ == AZURE_IDENTITY}
    federated = {
        dependency
        for typ, name, inputs in listed
        if typ == AZURE_FEDERATION and inputs.get("subject") == subject
        for dependency in dependencies.get(name, ())
        if dependency in identities
    }
    containers = {
        name: str(inputs.get("containerName", ""))
        for typ, name, inputs in listed
        if typ == AZURE_CONTAINER
    }
    names = azure_role_names()
    found: dict[str, list[str]] = {}
    for typ, name, inputs in listed:
        needs = set(dependencies.get(name, ()))
        if typ != AZURE_ROLE_ASSIGNMENT or not needs & federated:
            continue
        role_id = str(inputs.get("roleDefinitionId", "")).rsplit("/", 1)[-1]
        for container in sorted(needs & containers.keys()):
            found.setdefault(containers[container], []).append(names.get(role_id, role_id))
    return {container: tuple(sorted(roles)) for container, roles in found.items()}
