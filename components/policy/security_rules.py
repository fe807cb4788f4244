"""Security baseline: no public model stores, encryption at rest, no static keys, workload
identity on, the Kubernetes API not open to the internet, owner and cost-center tags."""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

from pulumi_policy import (
    PolicyResource,
    ReportViolation,
    ResourceValidationArgs,
    Severity,
    StackValidationArgs,
)

from components.cidrs import whole_internet
from components.policy.rule import (
    MANDATORY,
    depends_on,
    get,
    of_type,
    property_rule,
    resource_rule,
    stack_rule,
)

S3_BUCKETS = ("aws:s3/bucket:Bucket", "aws:s3/bucketV2:BucketV2")
S3_PUBLIC_ACCESS_BLOCK = "aws:s3/bucketPublicAccessBlock:BucketPublicAccessBlock"
S3_ENCRYPTION = (
    "aws:s3/bucketServerSideEncryptionConfiguration:BucketServerSideEncryptionConfiguration",
    "aws:s3/bucketServerSideEncryptionConfigurationV2:BucketServerSideEncryptionConfigurationV2",
)
PUBLIC_ACCESS_FLAGS = (
    "blockPublicAcls",
    "blockPublicPolicy",
    "ignorePublicAcls",
    "restrictPublicBuckets",
)
KMS_ALGORITHMS = ("aws:kms", "aws:kms:dsse")


def _attached(
    bucket: PolicyResource, resources: list[PolicyResource], *types: str
) -> list[PolicyResource]:
    return [r for r in of_type(resources, *types) if depends_on(r, bucket)]


def _s3_public_access(args: StackValidationArgs, report: ReportViolation) -> None:
    for bucket in of_type(args.resources, *S3_BUCKETS):
        blocks = _attached(bucket, args.resources, S3_PUBLIC_ACCESS_BLOCK)
        if not any(all(b.props.get(f) is True for f in PUBLIC_ACCESS_FLAGS) for b in blocks):
            report(
                f"{bucket.name} has no public access block with all four settings true",
                bucket.urn,
            )


def _s3_kms(args: StackValidationArgs, report: ReportViolation) -> None:
    for bucket in of_type(args.resources, *S3_BUCKETS):
        algorithms = {
            get(rule, "applyServerSideEncryptionByDefault.sseAlgorithm")
            for config in _attached(bucket, args.resources, *S3_ENCRYPTION)
            for rule in config.props.get("rules") or []
        }
        if not algorithms & set(KMS_ALGORITHMS):
            report(f"{bucket.name} has no default encryption with a KMS key", bucket.urn)


def _gcs_public(props: Mapping[str, Any]) -> str | None:
    if props.get("uniformBucketLevelAccess") is not True:
        return "uniform bucket-level access is off: object ACLs can make models public"
    if props.get("publicAccessPrevention") != "enforced":
        return "public access prevention is not enforced"
    return None


def _azure_blob_public(props: Mapping[str, Any]) -> str | None:
    if props.get("allowBlobPublicAccess") is not False:
        return "allowBlobPublicAccess is not false: containers can be made public"
    return None


def _azure_container_public(props: Mapping[str, Any]) -> str | None:
    access = props.get("publicAccess") or "None"
    return None if access == "None" else f"the container's publicAccess is {access}"


def _oci_bucket_public(props: Mapping[str, Any]) -> str | None:
    access = props.get("accessType") or "NoPublicAccess"
    return None if access == "NoPublicAccess" else f"the bucket's accessType is {access}"


def _eks_secrets(props: Mapping[str, Any]) -> str | None:
    if "secrets" not in (get(props, "encryptionConfig.resources") or []):
        return "Kubernetes secrets are not envelope-encrypted with a KMS key"
    return None


def _aks_secrets(props: Mapping[str, Any]) -> str | None:
    if not get(props, "securityProfile.azureKeyVaultKms.enabled"):
        return "KMS etcd encryption (securityProfile.azureKeyVaultKms) is off"
    return None


def _gke_secrets(props: Mapping[str, Any]) -> str | None:
    if get(props, "databaseEncryption.state") != "ENCRYPTED":
        return "application-layer secrets encryption (databaseEncryption) is off"
    return None


def _oke_secrets(props: Mapping[str, Any]) -> str | None:
    return (
        None if props.get("kmsKeyId") else "secrets are not encrypted with a Vault key (kmsKeyId)"
    )


STATIC_KEY_TYPES = {
    "aws:iam/accessKey:AccessKey": "an IAM access key",
    "gcp:serviceaccount/key:Key": "a service account key",
    "oci:Identity/apiKey:ApiKey": "an API signing key",
    "oci:Identity/customerSecretKey:CustomerSecretKey": "a customer secret key",
    "oci:Identity/authToken:AuthToken": "an auth token",
}


def _static_keys(args: ResourceValidationArgs, report: ReportViolation) -> None:
    kind = STATIC_KEY_TYPES.get(args.resource_type)
    if kind:
        report(f"{args.name} creates {kind}: a long-lived credential that can leak", None)


def _azure_shared_key(props: Mapping[str, Any]) -> str | None:
    if props.get("allowSharedKeyAccess") is not False:
        return "allowSharedKeyAccess is not false: account keys and SAS grant access"
    return None


def _aks_local_accounts(props: Mapping[str, Any]) -> str | None:
    return None if props.get("disableLocalAccounts") is True else "local accounts are enabled"


def _eks_workload_identity(args: StackValidationArgs, report: ReportViolation) -> None:
    identities = of_type(
        args.resources,
        "aws:iam/openIdConnectProvider:OpenIdConnectProvider",
        "aws:eks/podIdentityAssociation:PodIdentityAssociation",
    )
    for cluster in of_type(args.resources, "aws:eks/cluster:Cluster"):
        if not any(depends_on(i, cluster) for i in identities):
            report(
                f"{cluster.name} has neither an IAM OIDC provider (IRSA) nor EKS Pod Identity",
                cluster.urn,
            )


def _aks_workload_identity(props: Mapping[str, Any]) -> str | None:
    if not get(props, "securityProfile.workloadIdentity.enabled"):
        return "workload identity (securityProfile.workloadIdentity) is off"
    if not get(props, "oidcIssuerProfile.enabled"):
        return "the OIDC issuer (oidcIssuerProfile) is off: workload identity needs it"
    return None


def _gke_workload_identity(props: Mapping[str, Any]) -> str | None:
    if not get(props, "workloadIdentityConfig.workloadPool"):
        return "workload identity (workloadIdentityConfig.workloadPool) is off"
    return None


def _oke_workload_identity(props: Mapping[str, Any]) -> str | None:
    if props.get("type") != "ENHANCED_CLUSTER":
        return "workload identity needs an enhanced cluster (type ENHANCED_CLUSTER)"
    return None


def _open(cidrs: Any) -> str:
    """The CIDRs that together admit the whole internet, as found (`whole_internet`)."""
    return whole_internet(cidrs or [])


def _eks_api(props: Mapping[str, Any]) -> str | None:
    if get(props, "vpcConfig.endpointPublicAccess") is False:
        return None
    cidrs = get(props, "vpcConfig.publicAccessCidrs")
    if not cidrs:
        return "the public API endpoint admits 0.0.0.0/0 (publicAccessCidrs unset)"
    if found := _open(cidrs):
        return f"the public API endpoint admits the whole internet: publicAccessCidrs {found}"
    return None


def _aks_api(props: Mapping[str, Any]) -> str | None:
    if get(props, "apiServerAccessProfile.enablePrivateCluster"):
        return None
    ranges = get(props, "apiServerAccessProfile.authorizedIPRanges")
    if not ranges:
        return "the API server admits any address (authorizedIPRanges unset)"
    if found := _open(ranges):
        return f"the API server admits the whole internet: authorizedIPRanges {found}"
    return None


def _gke_api(props: Mapping[str, Any]) -> str | None:
    if get(props, "privateClusterConfig.enablePrivateEndpoint"):
        return None
    blocks = get(props, "masterAuthorizedNetworksConfig.cidrBlocks")
    if not blocks:
        return "the control plane admits any address (master authorized networks unset)"
    if found := _open(b.get("cidrBlock") for b in blocks):
        return f"the control plane admits the whole internet: authorized networks {found}"
    return None


OKE_CLUSTER = "oci:ContainerEngine/cluster:Cluster"
OCI_SECURITY_LIST = "oci:Core/securityList:SecurityList"
KUBERNETES_API_PORT = 6443


def _admits_api(rule: Mapping[str, Any]) -> bool:
    """Whether a security-list rule admits TCP to the Kubernetes API port (from its source)."""
    if str(rule.get("protocol")) not in ("6", "all"):
        return False
    low = get(rule, "tcpOptions.min", 1)
    high = get(rule, "tcpOptions.max", 65535)
    return bool(low <= KUBERNETES_API_PORT <= high)


def _oke_api(args: StackValidationArgs, report: ReportViolation) -> None:
    for cluster in of_type(args.resources, OKE_CLUSTER):
        if not get(cluster.props, "endpointConfig.isPublicIpEnabled"):
            continue
        for rules in of_type(args.resources, OCI_SECURITY_LIST):
            sources = [
                r.get("source")
                for r in rules.props.get("ingressSecurityRules") or []
                if _admits_api(r)
            ]
            if found := _open(sources):
                report(
                    f"{cluster.name} has a public API endpoint and {rules.name} admits "
                    f"{found} on TCP {KUBERNETES_API_PORT}",
                    cluster.urn,
                )


REQUIRED_TAGS = ("owner", "cost-center")
# Taggable types the builders create -> where their tags/labels live.
TAGS_AT = {
    **{
        f"aws:{t}": "tags"
        for t in (
            "ec2/vpc:Vpc",
            "ec2/subnet:Subnet",
            "ec2/eip:Eip",
            "ec2/natGateway:NatGateway",
            "ec2/internetGateway:InternetGateway",
            "ec2/routeTable:RouteTable",
            "ec2/securityGroup:SecurityGroup",
            "ec2/carrierGateway:CarrierGateway",
            "kms/key:Key",
            "iam/role:Role",
            "cloudwatch/logGroup:LogGroup",
            "s3/bucket:Bucket",
            "eks/cluster:Cluster",
            "eks/nodeGroup:NodeGroup",
            "eks/accessEntry:AccessEntry",
            "iam/openIdConnectProvider:OpenIdConnectProvider",
            "route53/healthCheck:HealthCheck",
        )
    },
    "aws:ec2/launchTemplate:LaunchTemplate": "tagSpecifications.0.tags",
    **{
        f"azure-native:{t}": "tags"
        for t in (
            "resources:ResourceGroup",
            "managedidentity:UserAssignedIdentity",
            "storage:StorageAccount",
            "keyvault:Vault",
            "network:VirtualNetwork",
            "containerservice:ManagedCluster",
            "containerservice:AgentPool",
        )
    },
    "gcp:storage/bucket:Bucket": "labels",
    "gcp:kms/cryptoKey:CryptoKey": "labels",
    "gcp:container/cluster:Cluster": "resourceLabels",
    "gcp:container/nodePool:NodePool": "nodeConfig.resourceLabels",
    "gcp:edgecontainer/cluster:Cluster": "labels",
    "gcp:edgecontainer/nodePool:NodePool": "labels",
    **{
        f"oci:{t}": "freeformTags"
        for t in (
            "Core/vcn:Vcn",
            "Core/subnet:Subnet",
            "Kms/vault:Vault",
            "Kms/key:Key",
            "ObjectStorage/bucket:Bucket",
            "ContainerEngine/cluster:Cluster",
        )
    },
}


def _provider_default_tags(args: ResourceValidationArgs) -> dict[str, Any]:
    """The AWS provider's default tags, which the provider adds to every taggable resource
    (provider inputs reach the engine as JSON strings)."""
    if args.provider is None:
        return {}
    value = args.provider.props.get("defaultTags") or {}
    if isinstance(value, str):
        value = json.loads(value)
    return dict(get(value, "tags", {}) or {})


def _required_tags(args: ResourceValidationArgs, report: ReportViolation) -> None:
    path = TAGS_AT.get(args.resource_type)
    if path is None:
        return
    tags = {**_provider_default_tags(args), **(get(args.props, path, {}) or {})}
    missing = [t for t in REQUIRED_TAGS if not tags.get(t)]
    if missing:
        report(f"{args.name} lacks the tags {', '.join(missing)} (at {path})", None)


STORE_META: dict[str, Any] = {"severity": Severity.CRITICAL, "enforcement": MANDATORY}
ENCRYPTION_META: dict[str, Any] = {"severity": Severity.HIGH, "enforcement": MANDATORY}
IDENTITY_META: dict[str, Any] = {"severity": Severity.HIGH, "enforcement": MANDATORY}
API_META: dict[str, Any] = {"severity": Severity.CRITICAL, "enforcement": MANDATORY}

POLICIES = [
    stack_rule(
        "s3-public-access-blocked",
        "Every S3 bucket has a public access block with all four settings true.",
        _s3_public_access,
        source="https://docs.aws.amazon.com/AmazonS3/latest/userguide/access-control-block-public-access.html",
        fix="add aws.s3.BucketPublicAccessBlock(bucket=..., all four block/ignore/restrict true)",
        **STORE_META,
    ),
    property_rule(
        "gcs-public-access-prevented",
        "A GCS bucket has uniform bucket-level access and enforced public access prevention.",
        "gcp:storage/bucket:Bucket",
        _gcs_public,
        source="https://cloud.google.com/storage/docs/public-access-prevention",
        checkov="CKV_GCP_114",
        fix="set uniform_bucket_level_access=True and public_access_prevention='enforced'",
        **STORE_META,
    ),
    property_rule(
        "azure-blob-public-access-off",
        "An Azure storage account disallows public blob access.",
        "azure-native:storage:StorageAccount",
        _azure_blob_public,
        source="https://learn.microsoft.com/en-us/azure/storage/blobs/anonymous-read-access-prevent",
        checkov="CKV_AZURE_190",
        fix="set allow_blob_public_access=False",
        **STORE_META,
    ),
    property_rule(
        "azure-container-not-public",
        "An Azure blob container grants no anonymous access.",
        "azure-native:storage:BlobContainer",
        _azure_container_public,
        source="https://learn.microsoft.com/en-us/azure/storage/blobs/anonymous-read-access-configure",
        fix="set public_access='None'",
        **STORE_META,
    ),
    property_rule(
        "oci-bucket-not-public",
        "An OCI Object Storage bucket is not public.",
        "oci:ObjectStorage/bucket:Bucket",
        _oci_bucket_public,
        source="https://docs.oracle.com/en-us/iaas/Content/Object/Tasks/managingbuckets.htm",
        fix="set access_type='NoPublicAccess'",
        **STORE_META,
    ),
    stack_rule(
        "s3-encrypted-with-kms",
        "Every S3 bucket encrypts by default with a KMS key.",
        _s3_kms,
        source="https://docs.aws.amazon.com/AmazonS3/latest/userguide/UsingKMSEncryption.html",
        checkov="CKV_AWS_145",
        fix="add BucketServerSideEncryptionConfiguration with sse_algorithm 'aws:kms' and a key",
        **ENCRYPTION_META,
    ),
    property_rule(
        "eks-secrets-encrypted",
        "EKS envelope-encrypts Kubernetes secrets with a KMS key.",
        "aws:eks/cluster:Cluster",
        _eks_secrets,
        source="https://docs.aws.amazon.com/eks/latest/userguide/enable-kms.html",
        checkov="CKV_AWS_58",
        fix="set encryption_config={resources: ['secrets'], provider: {key_arn: ...}}",
        **ENCRYPTION_META,
    ),
    property_rule(
        "aks-secrets-encrypted",
        "AKS encrypts etcd secrets with a Key Vault key (KMS).",
        "azure-native:containerservice:ManagedCluster",
        _aks_secrets,
        source="https://learn.microsoft.com/en-us/azure/aks/use-kms-etcd-encryption",
        fix="set security_profile.azure_key_vault_kms (enabled, key_id)",
        **ENCRYPTION_META,
    ),
    property_rule(
        "gke-secrets-encrypted",
        "GKE encrypts secrets at the application layer with a Cloud KMS key.",
        "gcp:container/cluster:Cluster",
        _gke_secrets,
        source="https://cloud.google.com/kubernetes-engine/docs/how-to/encrypting-secrets",
        fix="set database_encryption={state: 'ENCRYPTED', key_name: ...}",
        **ENCRYPTION_META,
    ),
    property_rule(
        "oke-secrets-encrypted",
        "OKE encrypts Kubernetes secrets with an OCI Vault key.",
        OKE_CLUSTER,
        _oke_secrets,
        source="https://docs.oracle.com/en-us/iaas/Content/ContEng/Tasks/contengencryptingdata.htm",
        fix="set kms_key_id to a Vault key the cluster may use",
        **ENCRYPTION_META,
    ),
    resource_rule(
        "no-static-cloud-keys",
        "No long-lived cloud keys are created (IAM access keys, service account keys, OCI API "
        "keys, secret keys, auth tokens): workloads use workload identity.",
        _static_keys,
        source="https://cloud.google.com/iam/docs/best-practices-for-managing-service-account-keys",
        fix="remove the key; grant the workload's identity (IRSA, workload identity) instead",
        **IDENTITY_META,
    ),
    property_rule(
        "azure-storage-no-shared-key",
        "An Azure storage account refuses shared-key (account key and SAS) authorization.",
        "azure-native:storage:StorageAccount",
        _azure_shared_key,
        source="https://learn.microsoft.com/en-us/azure/storage/common/shared-key-authorization-prevent",
        fix="set allow_shared_key_access=False and grant data roles to identities",
        **IDENTITY_META,
    ),
    property_rule(
        "aks-local-accounts-disabled",
        "AKS has no local (static) admin accounts.",
        "azure-native:containerservice:ManagedCluster",
        _aks_local_accounts,
        source="https://learn.microsoft.com/en-us/azure/aks/manage-local-accounts-managed-azure-ad",
        checkov="CKV_AZURE_141",
        fix="set disable_local_accounts=True (and grant Entra ID roles)",
        **IDENTITY_META,
    ),
    stack_rule(
        "eks-workload-identity",
        "An EKS cluster has an IAM OIDC provider (IRSA) or EKS Pod Identity.",
        _eks_workload_identity,
        source="https://docs.aws.amazon.com/eks/latest/userguide/iam-roles-for-service-accounts.html",
        fix="add aws.iam.OpenIdConnectProvider for the cluster's issuer, or Pod Identity",
        **IDENTITY_META,
    ),
    property_rule(
        "aks-workload-identity",
        "AKS has workload identity and its OIDC issuer on.",
        "azure-native:containerservice:ManagedCluster",
        _aks_workload_identity,
        source="https://learn.microsoft.com/en-us/azure/aks/workload-identity-overview",
        fix="set security_profile.workload_identity.enabled and oidc_issuer_profile.enabled",
        **IDENTITY_META,
    ),
    property_rule(
        "gke-workload-identity",
        "GKE has workload identity on (a workload pool).",
        "gcp:container/cluster:Cluster",
        _gke_workload_identity,
        source="https://cloud.google.com/kubernetes-engine/docs/how-to/workload-identity",
        fix="set workload_identity_config.workload_pool='<project>.svc.id.goog'",
        **IDENTITY_META,
    ),
    property_rule(
        "oke-workload-identity",
        "OKE is an enhanced cluster, which workload identity needs.",
        OKE_CLUSTER,
        _oke_workload_identity,
        source="https://docs.oracle.com/en-us/iaas/Content/ContEng/Tasks/contenggrantingworkloadaccesstoresources.htm",
        fix="set type='ENHANCED_CLUSTER'",
        **IDENTITY_META,
    ),
    property_rule(
        "eks-api-not-open",
        "The EKS public API endpoint is not open to 0.0.0.0/0.",
        "aws:eks/cluster:Cluster",
        _eks_api,
        source="https://docs.aws.amazon.com/eks/latest/userguide/cluster-endpoint.html",
        checkov="CKV_AWS_38",
        fix="set vpc_config.public_access_cidrs to the deployers' CIDRs, or turn the public "
        "endpoint off",
        **API_META,
    ),
    property_rule(
        "aks-api-not-open",
        "The AKS API server has authorized IP ranges (none open to all) or is private.",
        "azure-native:containerservice:ManagedCluster",
        _aks_api,
        source="https://learn.microsoft.com/en-us/azure/aks/api-server-authorized-ip-ranges",
        checkov="CKV_AZURE_6",
        fix="set api_server_access_profile.authorized_ip_ranges to the deployers' CIDRs",
        **API_META,
    ),
    property_rule(
        "gke-api-not-open",
        "The GKE control plane has master authorized networks (none open to all) or a private "
        "endpoint.",
        "gcp:container/cluster:Cluster",
        _gke_api,
        source="https://cloud.google.com/kubernetes-engine/docs/how-to/authorized-networks",
        checkov="CKV_GCP_20",
        fix="set master_authorized_networks_config.cidr_blocks to the deployers' CIDRs",
        **API_META,
    ),
    stack_rule(
        "oke-api-not-open",
        "An OKE public API endpoint is not open to 0.0.0.0/0 on 6443 in any security list.",
        _oke_api,
        source="https://docs.oracle.com/en-us/iaas/Content/ContEng/Concepts/contengnetworkconfig.htm",
        fix="admit only the deployers' CIDRs on 6443 in the API subnet's security list",
        **API_META,
    ),
    resource_rule(
        "required-tags",
        "Taggable cloud resources carry the owner and cost-center tags (AWS provider default "
        "tags count).",
        _required_tags,
        severity=Severity.MEDIUM,
        enforcement=MANDATORY,
        source="https://docs.aws.amazon.com/tag-editor/latest/userguide/best-practices-and-strats.html",
        fix="set owner and cost-center in the service spec's tags (the builders pass them on)",
    ),
]
