"""Deployability: what a cloud would refuse, or leave unserved, on a first `pulumi up` (review
B1, B3-B5, B9, M1, M7). Each rule names the resource and the input to change."""

from __future__ import annotations

import re
from collections import defaultdict
from collections.abc import Iterable, Mapping
from typing import Any

from pulumi_policy import (
    PolicyResource,
    ReportViolation,
    ResourceValidationArgs,
    Severity,
    StackValidationArgs,
)

from components import catalog
from components.catalog import kubernetes as calendar
from components.catalog.clouds import cloud_of_token
from components.errors import CatalogError
from components.policy.rule import (
    ADVISORY,
    MANDATORY,
    depends_on,
    get,
    of_type,
    resource_rule,
    stack_rule,
)

SERVICE = "kubernetes:core/v1:Service"
HELM_RELEASE = "kubernetes:helm.sh/v3:Release"
EKS_CLUSTER = "aws:eks/cluster:Cluster"
LB_TYPE_ANNOTATION = "service.beta.kubernetes.io/aws-load-balancer-type"
# Values of the annotation that hand the Service to the AWS Load Balancer Controller.
LBC_TYPES = ("external", "nlb-ip")
LBC_CHART = "aws-load-balancer-controller"


def _lbc_installs(resources: list[PolicyResource]) -> list[PolicyResource]:
    charts = [
        r
        for r in of_type(resources, HELM_RELEASE)
        if str(r.props.get("chart", "")).rsplit("/", 1)[-1] == LBC_CHART  # "eks/<chart>" too
    ]
    auto_mode = [
        r for r in of_type(resources, EKS_CLUSTER) if get(r.props, "computeConfig.enabled")
    ]
    return charts + auto_mode


def _lb_controller(args: StackValidationArgs, report: ReportViolation) -> None:
    installs = _lbc_installs(args.resources)
    for service in of_type(args.resources, SERVICE):
        kind = get(service.props, "metadata.annotations", {}).get(LB_TYPE_ANNOTATION)
        if kind not in LBC_TYPES:
            continue
        if not installs:
            report(
                f"{service.name}: `{LB_TYPE_ANNOTATION}: {kind}` needs the AWS Load Balancer "
                "Controller, which this stack does not install: the Service never gets an address",
                service.urn,
            )
        elif not any(depends_on(service, i, args.resources) for i in installs):
            report(
                f"{service.name} does not wait for the AWS Load Balancer Controller: its "
                "webhook and controller must exist before the Service",
                service.urn,
            )


# Globally unique names (within a tenancy namespace for OCI): type -> property holding the name.
GLOBAL_NAMES = {
    "aws:s3/bucket:Bucket": "bucket",
    "aws:s3/bucketV2:BucketV2": "bucket",
    "gcp:storage/bucket:Bucket": "name",
    "azure-native:storage:StorageAccount": "accountName",
    "azure-native:keyvault:Vault": "vaultName",
    "azure-native:network:Profile": "dnsConfig.relativeName",
    "oci:ObjectStorage/bucket:Bucket": "name",
}


def global_name(resource_type: str, props: Mapping[str, Any]) -> tuple[str, str] | None:
    """(kind, name) of a resource whose name must be unique across every stack and account, or
    None (another type, or a name Pulumi auto-generates with a random suffix)."""
    path = GLOBAL_NAMES.get(resource_type)
    name = get(props, path) if path else None
    return (resource_type, str(name).lower()) if name else None


def duplicate_names(
    resources: Iterable[PolicyResource],
) -> dict[tuple[str, str], list[PolicyResource]]:
    """The globally unique names more than one resource asks for, with those resources."""
    claims: dict[tuple[str, str], list[PolicyResource]] = defaultdict(list)
    for resource in resources:
        key = global_name(resource.resource_type, resource.props)
        if key:
            claims[key].append(resource)
    return {key: found for key, found in claims.items() if len(found) > 1}


def _unique_names(args: StackValidationArgs, report: ReportViolation) -> None:
    for (kind, name), claims in duplicate_names(args.resources).items():
        names = ", ".join(r.name for r in claims)
        report(
            f"{kind.rsplit(':', 1)[-1]} name {name!r} is asked for twice ({names})", claims[1].urn
        )


ZONE_REDUNDANT_SKUS = re.compile(r"_(ZRS|GZRS|RAGZRS)$")


def _zrs_zones(args: ResourceValidationArgs, report: ReportViolation) -> None:
    if args.resource_type != "azure-native:storage:StorageAccount":
        return
    sku = str(get(args.props, "sku.name", ""))
    location = str(args.props.get("location", ""))
    if not ZONE_REDUNDANT_SKUS.search(sku):
        return
    region = catalog.regions().get((cloud_of_token(args.resource_type) or "", location))
    if region is None or not region.zones:
        known = "has no availability zones" if region else "is not in the catalog's regions"
        report(f"{sku} needs availability zones, and {location!r} {known}", None)


# Azure built-in roles (https://learn.microsoft.com/en-us/azure/role-based-access-control/
# built-in-roles/containers, .../built-in-roles/networking, .../built-in-roles/security).
AKS_DATA_PLANE_ROLES = {
    "b1ff04bb-8a4e-4dc4-8eb5-8693973ce19b": "Azure Kubernetes Service RBAC Cluster Admin",
    "3498e952-d568-435e-9b2c-8d77e338d7f7": "Azure Kubernetes Service RBAC Admin",
    "a7ffa36f-339b-4b5c-8bdf-e2c188b2c0eb": "Azure Kubernetes Service RBAC Writer",
}
NETWORK_CONTRIBUTOR = "4d97b98b-1d4f-4787-a291-c67834d212e7"
KMS_ROLES = ("12338af0-0e69-4776-bea7-57ae8d297424", "e147488a-f6f5-4113-8e2d-b22465e65bf6")
AKS = "azure-native:containerservice:ManagedCluster"
ROLE_ASSIGNMENT = "azure-native:authorization:RoleAssignment"
SUBNET = "azure-native:network:Subnet"
VNET = "azure-native:network:VirtualNetwork"


def role_assignments(resources: list[PolicyResource], *role_ids: str) -> list[PolicyResource]:
    """The stack's Azure role assignments of any of these role definition GUIDs."""
    return [
        r
        for r in of_type(resources, ROLE_ASSIGNMENT)
        if str(r.props.get("roleDefinitionId", "")).rsplit("/", 1)[-1].lower() in role_ids
    ]


def _aks_data_plane_role(args: StackValidationArgs, report: ReportViolation) -> None:
    grants = role_assignments(args.resources, *AKS_DATA_PLANE_ROLES)
    for cluster in of_type(args.resources, AKS):
        if not get(cluster.props, "aadProfile.enableAzureRBAC"):
            continue
        if get(cluster.props, "aadProfile.adminGroupObjectIDs"):
            continue
        if not any(depends_on(grant, cluster) for grant in grants):
            report(
                f"{cluster.name} authorises the Kubernetes API with Azure RBAC, and nobody holds "
                "a data-plane role on it: every Kubernetes resource gets 403 Forbidden",
                cluster.urn,
            )


def _covers(grant: PolicyResource, subnet: PolicyResource, vnets: list[PolicyResource]) -> bool:
    """Whether a role assignment is scoped to this subnet, or to the VNet holding it."""
    if depends_on(grant, subnet):
        return True
    on_a_subnet = any(d.resource_type == SUBNET for d in grant.dependencies)
    return not on_a_subnet and any(depends_on(subnet, v) and depends_on(grant, v) for v in vnets)


def _aks_subnet_grants(args: StackValidationArgs, report: ReportViolation) -> None:
    grants = role_assignments(args.resources, NETWORK_CONTRIBUTOR)
    vnets = of_type(args.resources, VNET)
    for cluster in of_type(args.resources, AKS):
        if get(cluster.props, "identity.type") != "UserAssigned":
            continue
        for subnet in [d for d in cluster.dependencies if d.resource_type == SUBNET]:
            covering = [g for g in grants if _covers(g, subnet, vnets)]
            if not covering:
                report(
                    f"{cluster.name}'s control-plane identity holds no Network Contributor on "
                    f"the subnet {subnet.name} it brings",
                    cluster.urn,
                )
            elif not any(depends_on(cluster, g) for g in covering):
                report(
                    f"{cluster.name} does not wait for Network Contributor on {subnet.name}: "
                    "create refuses or later subnet operations fail",
                    cluster.urn,
                )


def _aks_kms_grant(args: StackValidationArgs, report: ReportViolation) -> None:
    grants = role_assignments(args.resources, *KMS_ROLES)
    for cluster in of_type(args.resources, AKS):
        if not get(cluster.props, "securityProfile.azureKeyVaultKms.enabled"):
            continue
        if not any(depends_on(cluster, g) for g in grants):
            report(
                f"{cluster.name} enables KMS etcd encryption without waiting for its identity's "
                "Key Vault Crypto User grant: AKS checks key access at create time",
                cluster.urn,
            )


WORKLOAD_POOL_MEMBER = ".svc.id.goog["
IAM_BINDINGS = (
    "gcp:serviceaccount/iAMMember:IAMMember",
    "gcp:serviceaccount/iAMBinding:IAMBinding",
    "gcp:projects/iAMMember:IAMMember",
    "gcp:storage/bucketIAMMember:BucketIAMMember",
)
POOL_OWNERS = (
    "gcp:container/cluster:Cluster",
    "gcp:edgecontainer/cluster:Cluster",
    "gcp:gkehub/membership:Membership",
)


def _members(props: Mapping[str, Any]) -> list[str]:
    return [str(m) for m in [props.get("member"), *(props.get("members") or [])] if m]


def _workload_pool_order(args: StackValidationArgs, report: ReportViolation) -> None:
    owners = of_type(args.resources, *POOL_OWNERS)
    for binding in of_type(args.resources, *IAM_BINDINGS):
        pool_members = [m for m in _members(binding.props) if WORKLOAD_POOL_MEMBER in m]
        if pool_members and not any(depends_on(binding, o) for o in owners):
            report(
                f"{binding.name} binds {pool_members[0]} before any cluster creates the "
                "workload identity pool: a fresh project answers 'Identity Pool does not exist'",
                binding.urn,
            )


NODE_PORTS = range(30000, 32768)
INGRESS_RULES = {
    "aws:vpc/securityGroupIngressRule:SecurityGroupIngressRule": "",
    "aws:ec2/securityGroupRule:SecurityGroupRule": "",
    "aws:ec2/securityGroup:SecurityGroup": "ingress",
    "gcp:compute/firewall:Firewall": "allows",
}


def _opened_ports(resource: PolicyResource) -> set[int]:
    """TCP ports a security group (rule) or firewall lets in."""
    field = INGRESS_RULES[resource.resource_type]
    if resource.props.get("type", "ingress") != "ingress":
        return set()  # an egress aws.ec2.SecurityGroupRule
    rules = (resource.props.get(field) or []) if field else [resource.props]
    opened: set[int] = set()
    for rule in rules:
        if str(rule.get("protocol", rule.get("ipProtocol", "tcp"))) in ("-1", "all"):
            opened.update(NODE_PORTS)
        elif field == "allows":
            for spec in rule.get("ports") or []:
                first, _, last = str(spec).partition("-")
                opened.update(range(int(first), int(last or first) + 1))
        elif rule.get("fromPort") is not None:
            low = int(rule["fromPort"])
            opened.update(range(low, int(rule.get("toPort", low)) + 1))
    return opened


def _node_ports(args: StackValidationArgs, report: ReportViolation) -> None:
    opened: set[int] = set()
    for rule in of_type(args.resources, *INGRESS_RULES):
        opened |= _opened_ports(rule)
    for service in of_type(args.resources, SERVICE):
        if get(service.props, "spec.type") != "NodePort":
            continue
        for port in get(service.props, "spec.ports", []):
            node_port = port.get("nodePort")
            if node_port is None or int(node_port) not in NODE_PORTS:
                report(
                    f"{service.name}: port {port.get('name', port.get('port'))} has no pinned "
                    "nodePort (30000-32767): no firewall rule can open a port chosen at random",
                    service.urn,
                )
            elif int(node_port) not in opened:
                report(
                    f"{service.name}: nodePort {int(node_port)} is not opened by any security "
                    "group rule or firewall: clients cannot reach it",
                    service.urn,
                )


# Where each managed cluster type keeps its Kubernetes version (the calendar's provider is the
# cloud its type token belongs to).
CLUSTER_VERSIONS = {
    "aws:eks/cluster:Cluster": "version",
    "azure-native:containerservice:ManagedCluster": "kubernetesVersion",
    "gcp:container/cluster:Cluster": "minMasterVersion",
    "oci:ContainerEngine/cluster:Cluster": "kubernetesVersion",
}
MINOR = re.compile(r"^v?(\d+)\.(\d+)")


def cluster_minor(resource_type: str, props: Mapping[str, Any]) -> tuple[str, str] | None:
    """(calendar provider, minor) of a managed cluster's requested version, or None."""
    field = CLUSTER_VERSIONS.get(resource_type)
    provider = cloud_of_token(resource_type)
    match = MINOR.match(str(props.get(field, ""))) if field and provider else None
    return (provider, f"{match[1]}.{match[2]}") if provider and match else None


def _version_supported(args: ResourceValidationArgs, report: ReportViolation) -> None:
    found = cluster_minor(args.resource_type, args.props)
    if found is None:
        return
    provider, minor = found
    try:
        row = calendar.support(provider, minor)
    except CatalogError as exc:
        report(str(exc), None)
        return
    if row.days_left(catalog.today()) < 0:
        report(
            f"Kubernetes {minor} left standard support on {provider} on {row.end_of_standard} "
            f"({row.source}); {calendar.upgrade_fix(provider)}",
            None,
        )


def _version_ending(args: ResourceValidationArgs, report: ReportViolation) -> None:
    found = cluster_minor(args.resource_type, args.props)
    row = calendar.calendar().get(found) if found else None
    if row and 0 <= row.days_left(catalog.today()) <= calendar.WARN_DAYS:
        report(
            f"Kubernetes {row.minor} leaves standard support on {row.provider} on "
            f"{row.end_of_standard} ({row.source})",
            None,
        )


LB_CONTROLLER = stack_rule(
    "aws-lb-controller-present",
    "A Service annotated `aws-load-balancer-type: external` (or nlb-ip) has the AWS Load "
    "Balancer Controller installed in its stack (Helm release or EKS Auto Mode) and waits for it.",
    _lb_controller,
    severity=Severity.CRITICAL,
    enforcement=MANDATORY,
    source="https://kubernetes-sigs.github.io/aws-load-balancer-controller/latest/guide/service/nlb/",
    fix="declare the controller (helm.v3.Release of eks-charts/aws-load-balancer-controller with "
    "its IRSA role) and depends_on it from the Service, or use `aws-load-balancer-type: nlb`",
)
UNIQUE_NAMES = stack_rule(
    "global-names-unique",
    "Globally unique names (S3/GCS/OCI buckets, storage accounts, Key Vaults, Traffic Manager "
    "relative names) are not asked for twice; `exitplan policy check` applies it across stacks.",
    _unique_names,
    severity=Severity.CRITICAL,
    enforcement=MANDATORY,
    source="https://learn.microsoft.com/en-us/azure/azure-resource-manager/management/resource-name-rules",
    fix="derive the name from project, stack and role (plus a short hash), not the service alone",
)
ZRS_ZONES = resource_rule(
    "azure-zrs-needs-zones",
    "A zone-redundant storage SKU (ZRS, GZRS, RA-GZRS) is only asked for in a region with "
    "availability zones (catalog regions.csv).",
    _zrs_zones,
    severity=Severity.CRITICAL,
    enforcement=MANDATORY,
    source="https://learn.microsoft.com/en-us/azure/storage/common/storage-redundancy#zone-redundant-storage",
    fix="choose the SKU from the region's zones: Standard_ZRS where zones exist, Standard_LRS or "
    "Standard_GRS elsewhere",
)
AKS_DATA_PLANE = stack_rule(
    "aks-deployer-data-plane-role",
    "An AKS cluster with Azure RBAC for Kubernetes grants a data-plane role (RBAC Cluster Admin, "
    "Admin or Writer) on itself, or names admin groups.",
    _aks_data_plane_role,
    severity=Severity.CRITICAL,
    enforcement=MANDATORY,
    source="https://learn.microsoft.com/en-us/azure/aks/manage-azure-rbac",
    fix="declare a RoleAssignment of Azure Kubernetes Service RBAC Cluster Admin "
    "(b1ff04bb-8a4e-4dc4-8eb5-8693973ce19b) to the deployer with the cluster as scope, or set "
    "aad_profile.admin_group_object_ids",
)
AKS_SUBNET_GRANTS = stack_rule(
    "aks-subnet-grants-before-cluster",
    "An AKS cluster with a user-assigned control-plane identity that brings its own subnets "
    "waits for Network Contributor on each of them.",
    _aks_subnet_grants,
    severity=Severity.CRITICAL,
    enforcement=MANDATORY,
    source="https://learn.microsoft.com/en-us/azure/aks/api-server-vnet-integration",
    fix="assign Network Contributor (4d97b98b-1d4f-4787-a291-c67834d212e7) to the control-plane "
    "identity on each subnet (or the VNet) and depends_on those grants from the ManagedCluster",
)
AKS_KMS_GRANT = stack_rule(
    "aks-kms-grant-before-cluster",
    "An AKS cluster with KMS etcd encryption waits for its identity's Key Vault Crypto User grant.",
    _aks_kms_grant,
    severity=Severity.HIGH,
    enforcement=MANDATORY,
    source="https://learn.microsoft.com/en-us/azure/aks/use-kms-etcd-encryption",
    fix="keep the Key Vault Crypto User RoleAssignment and depends_on it from the ManagedCluster",
)
WORKLOAD_POOL = stack_rule(
    "gke-workload-identity-after-pool",
    "An IAM binding for a `<project>.svc.id.goog[...]` member waits for the cluster that "
    "creates the workload identity pool.",
    _workload_pool_order,
    severity=Severity.CRITICAL,
    enforcement=MANDATORY,
    source="https://cloud.google.com/kubernetes-engine/docs/how-to/workload-identity",
    fix="build the member from cluster.workload_identity_config.workload_pool, or depends_on the "
    "cluster",
)
NODE_PORT_OPEN = stack_rule(
    "nodeport-pinned-and-open",
    "A NodePort Service pins each nodePort, and a security group rule or firewall opens it.",
    _node_ports,
    severity=Severity.HIGH,
    enforcement=MANDATORY,
    source="https://kubernetes.io/docs/concepts/services-networking/service/#type-nodeport",
    fix="set nodePort on each port and add an ingress rule for it from the clients' CIDRs",
)
VERSION_SUPPORTED = resource_rule(
    "kubernetes-version-supported",
    "A managed cluster's Kubernetes minor is inside standard support today, per the support "
    "calendar (catalog kubernetes_support.csv).",
    _version_supported,
    severity=Severity.HIGH,
    enforcement=MANDATORY,
    source="https://docs.aws.amazon.com/eks/latest/userguide/kubernetes-versions.html",
    fix="move kubernetes_version to a minor in standard support (the message lists them)",
)
VERSION_ENDING = resource_rule(
    "kubernetes-version-support-ending",
    "A managed cluster's Kubernetes minor leaves standard support within 90 days.",
    _version_ending,
    severity=Severity.LOW,
    enforcement=ADVISORY,
    source="https://learn.microsoft.com/en-us/azure/aks/supported-kubernetes-versions",
    fix="plan the upgrade to the next minor before its end of standard support",
)

POLICIES = [
    LB_CONTROLLER,
    UNIQUE_NAMES,
    ZRS_ZONES,
    AKS_DATA_PLANE,
    AKS_SUBNET_GRANTS,
    AKS_KMS_GRANT,
    WORKLOAD_POOL,
    NODE_PORT_OPEN,
    VERSION_SUPPORTED,
    VERSION_ENDING,
]
