"""Triton's identity holds what Triton's store client uses (review J1): the static twin of the
sandbox, which runs the same Triton against its store behind the planned grants. Both read
the same catalog rows (`triton_store_operations.csv`, `store_role_permissions.csv`)."""

from __future__ import annotations

import fnmatch
import json
from collections.abc import Iterator

from pulumi_policy import PolicyResource, ReportViolation, Severity, StackValidationArgs

from components.catalog.clouds import clouds, facts
from components.catalog.store_permissions import permissions_of, permissions_triton_needs
from components.policy.rule import (
    MANDATORY,
    get,
    model_repository,
    namespace,
    of_type,
    pod_spec,
    stack_rule,
)
from components.policy.store_access import Resource, gcs_roles, s3_policies
from components.policy.workload_rules import SERVICE_ACCOUNT, triton_deployments

# The ServiceAccount annotation that names the cloud identity a pod runs as, by store scheme
# (EKS IRSA "Configure a Kubernetes service account to assume an IAM role"; GKE "Use Workload
# Identity Federation for GKE").
IDENTITY_ANNOTATIONS = {
    "s3": "eks.amazonaws.com/role-arn",
    "gs": "iam.gke.io/gcp-service-account",
}
# What an S3 permission applies to: the bucket (s3:ListBucket) or its objects (s3:GetObject).
S3_RESOURCES = {"s3:ListBucket": "arn:aws:s3:::{bucket}", "s3:GetObject": "arn:aws:s3:::{bucket}/*"}


def _identity(
    resources: list[PolicyResource], deployment: PolicyResource, scheme: str
) -> str | None:
    """The identity the Deployment's ServiceAccount names, or None when the ServiceAccount
    is another stack's (an edge joining its service's cluster: checked with that stack)."""
    spec = pod_spec(deployment.resource_type, deployment.props) or {}
    name = spec.get("serviceAccountName", "default")
    for account in of_type(resources, SERVICE_ACCOUNT):
        same = (namespace(account.props), get(account.props, "metadata.name")) == (
            namespace(deployment.props),
            name,
        )
        if same:
            annotations = get(account.props, "metadata.annotations", {}) or {}
            return str(annotations.get(IDENTITY_ANNOTATIONS[scheme], ""))
    return None


def s3_allows(policies: list[str], permission: str, resource: str) -> bool:
    """Whether one of the policy documents allows `permission` on `resource` (Allow
    statements only; action and resource wildcards as IAM matches them)."""
    for policy in policies:
        statements = json.loads(policy).get("Statement", [])
        for statement in statements if isinstance(statements, list) else [statements]:
            if statement.get("Effect") != "Allow":
                continue
            actions = statement.get("Action", [])
            arns = statement.get("Resource", [])
            actions = [actions] if isinstance(actions, str) else actions
            arns = [arns] if isinstance(arns, str) else arns
            if any(fnmatch.fnmatchcase(permission, a) for a in actions) and any(
                fnmatch.fnmatchcase(resource, r) for r in arns
            ):
                return True
    return False


def missing_permissions(
    resources: list[Resource], scheme: str, bucket: str, principal: str
) -> list[str]:
    """The permissions Triton's `scheme` client uses that `principal` lacks on `bucket`."""
    needed = sorted(permissions_triton_needs(scheme))
    if scheme == "gs":
        cloud = next(c for c in clouds() if facts(c).store_scheme == scheme)
        held = permissions_of(cloud, gcs_roles(resources, principal).get(bucket, ()))
        return [p for p in needed if p not in held]
    policies = s3_policies(resources, principal)
    return [p for p in needed if not s3_allows(policies, p, S3_RESOURCES[p].format(bucket=bucket))]


def _unreadable(resources: list[PolicyResource]) -> Iterator[tuple[PolicyResource, str]]:
    triples: list[Resource] = [(r.resource_type, r.name, r.props) for r in resources]
    for deployment, container in triton_deployments(resources):
        repository = model_repository(container)
        scheme, _, rest = repository.partition("://")
        if scheme not in IDENTITY_ANNOTATIONS:
            continue  # a local copy, or a store this rule has no identity table for
        bucket = rest.split("/", 1)[0]
        principal = _identity(resources, deployment, scheme)
        if principal is None:
            continue
        missing = missing_permissions(triples, scheme, bucket, principal)
        if missing:
            yield (
                deployment,
                (
                    f"{deployment.name}'s Triton reads {repository} as "
                    f"{principal or 'no identity'}, which lacks {', '.join(missing)} on "
                    f"{bucket}: Triton's {scheme}:// client uses it at start "
                    "(triton_store_operations.csv) and the server exits"
                ),
            )


def _store_permissions(args: StackValidationArgs, report: ReportViolation) -> None:
    for deployment, message in _unreadable(args.resources):
        report(message, deployment.urn)


POLICIES = [
    stack_rule(
        "triton-identity-reads-store",
        "The identity Triton runs as holds every permission Triton's store client uses on the "
        "bucket it reads.",
        _store_permissions,
        severity=Severity.CRITICAL,
        enforcement=MANDATORY,
        source="https://github.com/triton-inference-server/server/issues/2253",
        fix="bind the missing permissions on the bucket to Triton's identity (GCS: "
        "roles/storage.legacyBucketReader adds storage.buckets.get to objectViewer; S3: "
        "s3:ListBucket on the bucket, s3:GetObject on its objects)",
    ),
]
